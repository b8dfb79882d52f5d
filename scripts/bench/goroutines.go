// Benchmark program for scripts/bench.py: eight goroutines busy for 300 ms, as a Go server's
// start-up is; the runtime preempts them with SIGURG (each a ptrace stop while traced).
package main

import (
	"fmt"
	"sync"
	"time"
)

func main() {
	var wg sync.WaitGroup
	total := make([]int, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			end := time.Now().Add(300 * time.Millisecond)
			for time.Now().Before(end) {
				total[g]++
			}
		}(g)
	}
	wg.Wait()
	fmt.Println(len(total))
}
