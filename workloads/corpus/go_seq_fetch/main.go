// go_seq_fetch: a Go client that makes 12 HTTP requests one after another (net/http) to a
// service that takes 150 ms per answer. The service is the same binary started again as a
// child process (net/http on 127.0.0.1, one goroutine per connection), like a local mock or
// sidecar. The Go runtime runs its own threads alongside in both processes: sysmon, the threads
// that park in the netpoller (epoll) and in futexes between goroutines, GC workers.
// The main goroutine waits on its sockets for ~1.8 s.
// Labels: io-bound, top wait `network` (sockets are never looked through, even to a child),
// first recommendation thread-pool or async: the 12 waits are independent, and goroutines
// would overlap them. Traps: the runtime's epoll thread also runs goroutines that make other
// system calls (not a blocking call stalling an event loop: Go hands a blocked thread's
// goroutines to another thread); runtime threads parked in futexes are idle, not lock
// contention.
// fixed.go runs the same 12 requests in 12 goroutines at once.
// Prints: responses=12 bytes=24000 checksum=<n>
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"
)

const requests = 12
const delay = 150 * time.Millisecond

// serve is the service: the same binary started again as a child process
// ("serve"), listening on 127.0.0.1, answering each request after 150 ms. It
// prints its address, then exits when its stdin closes (the client is done).
func serve() {
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
	fmt.Println(ln.Addr().String())
	io.Copy(io.Discard, os.Stdin)
}

// startServer starts the service as a child process and returns its address
// and the pipe to its stdin (closed to stop it).
func startServer() (string, io.WriteCloser, *exec.Cmd) {
	cmd := exec.Command(os.Args[0], "serve")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		panic(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		panic(err)
	}
	if err := cmd.Start(); err != nil {
		panic(err)
	}
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		panic(err)
	}
	return strings.TrimSpace(addr), stdin, cmd
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
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		serve()
		return
	}
	addr, stop, server := startServer()
	bodies := make([][]byte, requests)
	for i := 0; i < requests; i++ {
		bodies[i] = fetch(addr, i)
	}
	stop.Close()
	server.Wait()
	report(bodies)
}
