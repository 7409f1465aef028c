package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/resolver/dnstest"
)

// TestFDExhaustion is the red-team sequence against the real binary with
// `ulimit -n 256`: 90 clients each holding a CONNECT tunnel (6 descriptors
// each when spliced), then 300 more connections, then 100 idle admin
// connections. sluice must refuse what does not fit (503, or a close),
// keep running, serve a normal request afterwards, and be back to its
// baseline of open descriptors once the clients are gone.
func TestFDExhaustion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)

	// The tunnels' destination: an echo server.
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	oport := textOrigin(t, "hello")

	dns := dnstest.New(t)
	dns.Set("origin.test", 60, "127.0.0.1")

	// One event loop, so the pooled upstream connection of the warm-up
	// request is the one the last request reuses, and the baseline holds.
	pl, _ := net.Listen("tcp", "127.0.0.1:0")
	proxy := pl.Addr().String()
	pl.Close()
	al, _ := net.Listen("tcp", "127.0.0.1:0")
	adminAddr := al.Addr().String()
	al.Close()
	cmd := exec.Command("sh", "-c", `ulimit -n 256 && exec "$0" "$@"`, bin,
		"-listen", proxy, "-admin", adminAddr, "-dns", dns.Addr(), "-loops", "1",
		"-connect-ports", "*", "-access-log", "", "-log-level", "warn")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	waitListening(t, proxy, &stderr)
	pid := cmd.Process.Pid

	get := func() (int, string, error) {
		c, err := net.DialTimeout("tcp", proxy, 2*time.Second)
		if err != nil {
			return 0, "", err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET http://origin.test:%d/ HTTP/1.1\r\nHost: origin.test\r\nConnection: close\r\n\r\n", oport)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0, "", err
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	if code, body, err := get(); err != nil || code != 200 || body != "hello" {
		t.Fatalf("warm-up request: %d %q %v\n%s", code, body, err, stderr.String())
	}
	time.Sleep(100 * time.Millisecond)
	base := countProcFDs(t, pid)

	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// 90 tunnels, each echoing a byte to prove it works.
	tunnels, refused := 0, 0
	echoPort := echo.Addr().(*net.TCPAddr).Port
	for i := 0; i < 90; i++ {
		c, err := net.DialTimeout("tcp", proxy, 2*time.Second)
		if err != nil {
			refused++
			continue
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", echoPort, echoPort)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"})
		if err != nil {
			refused++ // closed at once
			continue
		}
		if resp.StatusCode != 200 {
			if resp.StatusCode != 503 {
				t.Fatalf("tunnel %d: status %d", i, resp.StatusCode)
			}
			refused++
			continue
		}
		c.Write([]byte("x"))
		if b, err := br.ReadByte(); err != nil || b != 'x' {
			t.Fatalf("tunnel %d does not echo: %v", i, err)
		}
		tunnels++
	}
	// 300 more connections on top.
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[string]int{}
	for i := 0; i < 300; i++ {
		c, err := net.DialTimeout("tcp", proxy, 2*time.Second)
		if err != nil {
			statuses["dial error"]++
			continue
		}
		conns = append(conns, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(c, "GET http://origin.test:%d/ HTTP/1.1\r\nHost: origin.test\r\n\r\n", oport)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			k := "closed"
			if err == nil {
				k = fmt.Sprint(resp.StatusCode)
			}
			mu.Lock()
			statuses[k]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	// 100 idle admin connections: at most adminMaxConns are kept.
	for i := 0; i < 100; i++ {
		if c, err := net.DialTimeout("tcp", adminAddr, 2*time.Second); err == nil {
			conns = append(conns, c)
		}
	}
	peak := countProcFDs(t, pid)
	t.Logf("ulimit 256: %d tunnels up, %d refused; 300 more: %v; peak %d fds (baseline %d)", tunnels, refused, statuses, peak, base)
	if tunnels == 0 || refused == 0 {
		t.Fatalf("want some tunnels up and some refused: %d up, %d refused", tunnels, refused)
	}
	if peak > 256 {
		t.Fatalf("peak %d descriptors", peak)
	}
	select {
	case err := <-exited:
		t.Fatalf("sluice exited under fd pressure: %v\n%s", err, stderr.String())
	default:
	}
	// Still serving while every client is connected? Not necessarily (the
	// budget is full), but as soon as they leave it must.
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body, err := get()
		if err == nil && code == 200 && body == "hello" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not serving after the clients left: %d %q %v\n%s", code, body, err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Back to the baseline of descriptors.
	for {
		n := countProcFDs(t, pid)
		if n <= base {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d descriptors open, baseline %d", n, base)
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case err := <-exited:
		t.Fatalf("sluice exited: %v\n%s", err, stderr.String())
	default:
	}
}

// countProcFDs counts the open descriptors of process pid.
func countProcFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// waitListening waits until addr accepts connections.
// startListening starts cmd with its stderr gathered, kills it at the end
// of the test, and waits until addr accepts connections.
func startListening(t *testing.T, cmd *exec.Cmd, addr string) *bytes.Buffer {
	t.Helper()
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitListening(t, addr, stderr)
	return stderr
}

func waitListening(t *testing.T, addr string, stderr *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("never listened on %s: %s", addr, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAdminNotThroughProxy (red-team finding 6): the admin listener is
// refused through the proxy (508), bound to loopback or to every address.
func TestAdminNotThroughProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	for _, bind := range []string{"127.0.0.1", ""} {
		t.Run("admin="+bind+":port", func(t *testing.T) {
			pl, _ := net.Listen("tcp", "127.0.0.1:0")
			proxy := pl.Addr().String()
			pl.Close()
			// The admin port is the kernel's choice, read from the log.
			cmd := exec.Command(buildBinary(t), "-listen", proxy, "-admin", bind+":0",
				"-dns", "127.0.0.1:1", "-access-log", "", "-rewrite-header", "X-Sluice-Host")
			var stderr syncBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			port := 0
			deadline := time.Now().Add(10 * time.Second)
			for port == 0 {
				if m := adminLogRE.FindSubmatch(stderr.Bytes()); m != nil {
					port, _ = strconv.Atoi(string(m[1]))
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no admin address logged: %s", stderr.Bytes())
				}
				time.Sleep(20 * time.Millisecond)
			}
			for _, req := range []string{
				fmt.Sprintf("GET http://127.0.0.1:%d/config HTTP/1.1\r\nHost: x\r\n\r\n", port),
				fmt.Sprintf("GET /debug/pprof/ HTTP/1.1\r\nHost: x\r\nX-Sluice-Host: 127.0.0.1:%d\r\n\r\n", port),
				fmt.Sprintf("GET /config HTTP/1.1\r\nHost: localhost:%d\r\n\r\n", port),
			} {
				c, err := net.Dial("tcp", proxy)
				if err != nil {
					t.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(5 * time.Second))
				io.WriteString(c, req)
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				c.Close()
				if err != nil || resp.StatusCode != 508 {
					t.Errorf("%q: %v %v", req, err, resp)
				}
			}
		})
	}
}

// adminLogRE finds the admin port in sluice's "listening" log line.
var adminLogRE = regexp.MustCompile(`admin=\S*:(\d+)`)
