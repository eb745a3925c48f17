// go_seq_fetch, FIXED variant: the same 12 requests to the same in-process service, each in
// its own goroutine, waited for with a sync.WaitGroup. Same output as main.go.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
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
	var wg sync.WaitGroup
	for i := 0; i < requests; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			bodies[i] = fetch(addr, i)
		}(i)
	}
	wg.Wait()
	report(bodies)
}
