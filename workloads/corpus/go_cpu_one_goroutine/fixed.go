// go_cpu_one_goroutine, FIXED variant: the same count, split into one goroutine per CPU
// (runtime.NumCPU()), each taking every k-th block of 10,000 numbers so that the shares cost
// the same. Same output as main.go.
package main

import (
	"fmt"
	"runtime"
	"sync"
)

const limit = 8000000
const block = 10000

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
	workers := runtime.NumCPU()
	counts := make([]int, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for b := w * block; b < limit; b += workers * block {
				for n := b; n < b+block && n < limit; n++ {
					if isPrime(n) {
						counts[w]++
					}
				}
			}
		}(w)
	}
	wg.Wait()
	count := 0
	for _, c := range counts {
		count += c
	}
	fmt.Printf("primes=%d\n", count)
}
