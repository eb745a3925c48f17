// sleep_then_compute: the main goroutine sleeps (time.Sleep, 0.5 s), then two goroutines
// count primes (about 0.5 s of CPU each on two CPUs) while main waits on a sync.WaitGroup.
// Expected: runtime `go`; the critical path is the sleep (the main thread parks on a futex
// until the runtime thread that waited for the timer hands the goroutine back) and then the
// workers' CPU; no lock waits, no lock-contention. Prints: primes=<n> sleep_s=<s>
package main

import (
	"fmt"
	"sync"
	"time"
)

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
	t := time.Now()
	time.Sleep(500 * time.Millisecond)
	slept := time.Since(t).Seconds()
	const limit = 6000000
	counts := make([]int, 2)
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for n := 1 + 2*w; n < limit; n += 4 {
				if isPrime(n) {
					counts[w]++
				}
			}
		}(w)
	}
	wg.Wait()
	fmt.Printf("primes=%d sleep_s=%.3f\n", counts[0]+counts[1]+1, slept)
}
