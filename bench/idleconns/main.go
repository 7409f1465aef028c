// Command idleconns measures a proxy's memory with many idle keep-alive
// clients (issue 8: 10,000 idle client connections, RSS under 64 MiB). It opens
// N connections to the proxy, sends one request on each through it to an
// origin, keeps them all open and idle, and prints the proxy's RSS (from
// /proc/PID/status) before and after.
//
//	ulimit -n 20000
//	go run ./bench/idleconns -proxy 127.0.0.1:3128 -origin 127.0.0.1:8080 -pid $(pgrep -n sluice) -n 10000
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

func rss(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			return strings.TrimSpace(l[len("VmRSS:"):])
		}
	}
	return "?"
}

func main() {
	proxy := flag.String("proxy", "127.0.0.1:3128", "proxy `address`")
	origin := flag.String("origin", "", "origin `host:port` the requests go to (required)")
	pid := flag.Int("pid", 0, "the proxy's process `id` (required)")
	n := flag.Int("n", 10000, "idle connections to open")
	flag.Parse()
	if *origin == "" || *pid == 0 {
		flag.Usage()
		os.Exit(2)
	}
	fmt.Printf("proxy RSS before: %s\n", rss(*pid))
	conns := make([]net.Conn, 0, *n)
	for i := 0; i < *n; i++ {
		c, err := net.DialTimeout("tcp", *proxy, 5*time.Second)
		if err != nil {
			fmt.Fprintf(os.Stderr, "dial %d: %v\n", i, err)
			break
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "GET http://%s/ HTTP/1.1\r\nHost: %s\r\n\r\n", *origin, *origin)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			fmt.Fprintf(os.Stderr, "request %d: %v\n", i, err)
			c.Close()
			break
		}
		resp.Body.Close()
		_ = c.SetDeadline(time.Time{})
		conns = append(conns, c)
	}
	time.Sleep(2 * time.Second)
	fmt.Printf("proxy RSS with %d idle keep-alive clients: %s\n", len(conns), rss(*pid))
	for _, c := range conns {
		c.Close()
	}
}
