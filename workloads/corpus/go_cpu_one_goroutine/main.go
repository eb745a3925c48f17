// go_cpu_one_goroutine: counts the primes below 8,000,000 by trial division in the main
// goroutine. The Go runtime's threads (sysmon, idle Ms parked in futexes, GC workers) run
// alongside and are idle; the second CPU is unused.
// Labels: cpu-bound, on-CPU (no top wait), first recommendation thread-pool (goroutines
// spread over the CPUs: Go runs them on as many threads as GOMAXPROCS, all CPUs by default)
// or optimize-cpu (a sieve): on 2 CPUs, Amdahl and halving the work both give about 2x.
// fixed.go splits the same range into one goroutine per CPU (interleaved blocks, so the
// halves cost the same).
// Prints: primes=<n>
package main

import "fmt"

const limit = 8000000

func isPrime(n int) bool {
	if n < 2 {
		return false
	}
	if n%2 == 0 {
		return n == 2
	}
	for d := 3; d*d <= n; d += 2 {
		if n%d == 0 {
			return false
		}
	}
	return true
}

func main() {
	count := 0
	for n := 0; n < limit; n++ {
		if isPrime(n) {
			count++
		}
	}
	fmt.Printf("primes=%d\n", count)
}
