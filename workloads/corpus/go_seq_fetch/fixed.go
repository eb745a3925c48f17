// go_seq_fetch, FIXED variant: the same 12 requests to the same child-process service, each in
// its own goroutine, waited for with a sync.WaitGroup. Same output as main.go.
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
	"sync"
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
	var wg sync.WaitGroup
	for i := 0; i < requests; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			bodies[i] = fetch(addr, i)
		}(i)
	}
	wg.Wait()
	stop.Close()
	server.Wait()
	report(bodies)
}
