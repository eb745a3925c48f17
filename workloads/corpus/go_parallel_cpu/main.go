// go_parallel_cpu: a worker pool already using every CPU. One goroutine per CPU
// (runtime.NumCPU()) takes jobs from a channel, 6,000 jobs of 2,000 numbers each, counts the
// primes in each by trial division and sends the count back on a second channel; the main
// goroutine feeds the jobs and sums the results.
// Labels: cpu-bound, on-CPU (no top wait), first recommendation optimize-cpu: both CPUs are
// busy the whole run, so more goroutines cannot help and a sieve would. Traps: goroutines
// blocking on a channel park their threads in futexes (the Go scheduler), and the runtime's
// own threads idle there: neither is lock contention; as many runnable threads as CPUs is not
// oversubscription.
// Prints: primes=<n>
package main

import (
	"fmt"
	"runtime"
)

const jobs = 6000
const size = 2000

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
	in := make(chan int)
	out := make(chan int)
	for w := 0; w < runtime.NumCPU(); w++ {
		go func() {
			for j := range in {
				c := 0
				for n := j * size; n < (j+1)*size; n++ {
					if isPrime(n) {
						c++
					}
				}
				out <- c
			}
		}()
	}
	go func() {
		for j := 0; j < jobs; j++ {
			in <- j
		}
		close(in)
	}()
	count := 0
	for j := 0; j < jobs; j++ {
		count += <-out
	}
	fmt.Printf("primes=%d\n", count)
}
