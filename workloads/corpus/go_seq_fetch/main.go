// go_seq_fetch: a Go client that makes 12 HTTP requests one after another (net/http) to a
// service that takes 150 ms per answer. The service is a net/http server started in the same
// process on 127.0.0.1 (its accept loop and one goroutine per connection), like an embedded
// admin or mock server. The Go runtime runs its own threads alongside: sysmon, the threads
// that park in the netpoller (epoll) and in futexes between goroutines, GC workers.
// The main goroutine waits on its sockets for ~1.8 s.
// Labels: io-bound, top wait `network` (sockets are never looked through, even inside the
// process), first recommendation thread-pool or async: the 12 waits are independent, and
// goroutines would overlap them. Traps: the runtime's epoll thread also runs goroutines that
// make other system calls (not a blocking call stalling an event loop: Go hands a blocked
// thread's goroutines to another thread); runtime threads parked in futexes are idle, not
// lock contention.
// fixed.go runs the same 12 requests in 12 goroutines at once.
// Prints: responses=12 bytes=24000 checksum=<n>
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

const requests = 12
const delay = 150 * time.Millisecond

func startServer() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		body := make([]byte, 2000)
		p := r.URL.Path
		for i := range body {
			body[i] = p[i%len(p)]
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Write(body)
	})
	go http.Serve(ln, mux)
	return ln.Addr().String()
}

func fetch(addr string, i int) []byte {
	// A new connection per request, as a simple client makes them.
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(fmt.Sprintf("http://%s/item/%d", addr, i))
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		panic(err)
	}
	return b
}

func report(bodies [][]byte) {
	total, sum := 0, 0
	for _, b := range bodies {
		total += len(b)
		for _, x := range b {
			sum = (sum*31 + int(x)) % 1000003
		}
	}
	fmt.Fprintf(os.Stdout, "responses=%d bytes=%d checksum=%d\n", len(bodies), total, sum)
}

func main() {
	addr := startServer()
	bodies := make([][]byte, requests)
	for i := 0; i < requests; i++ {
		bodies[i] = fetch(addr, i)
	}
	report(bodies)
}
