package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sluiceProc is a sluice binary started by a test, with every address
// chosen by the test (startBinary picks the proxy's itself and turns the
// admin listener off).
type sluiceProc struct {
	cmd    *exec.Cmd
	stdout *syncBuffer // the access log, with -access-log -
	stderr *syncBuffer
	exited chan struct{} // closed when the process has exited; err is then set
	err    error         // cmd.Wait's
}

// startProc starts the binary in dir ("" for the package directory) with
// args. It is killed at the end of the test if still running.
func startProc(t *testing.T, dir string, args ...string) *sluiceProc {
	t.Helper()
	p := &sluiceProc{cmd: exec.Command(buildBinary(t), args...), stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
	})
	return p
}

// waitListening waits until every addr accepts connections; it fails the
// test at once if the process exits instead.
func (p *sluiceProc) waitListening(t *testing.T, addrs ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, addr := range addrs {
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-p.exited:
				t.Fatalf("sluice exited (%v) instead of listening on %s:\n%s", p.err, addr, p.stderr.Bytes())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("sluice never listened on %s:\n%s", addr, p.stderr.Bytes())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// stop sends SIGTERM and checks that the process exits 0.
func (p *sluiceProc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
		if p.err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", p.err, p.stderr.Bytes())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("no exit 15 s after SIGTERM:\n%s", p.stderr.Bytes())
	}
}

// freePort returns a TCP port that was free on every address a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startOrigin starts an HTTP origin on loopback answering every request
// with body, and returns its address.
func startOrigin(t *testing.T, body string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// exchange sends req on a new connection to addr and returns the response
// with its body read.
func exchange(t *testing.T, addr, req string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%q to %s: %v", req, addr, err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%q to %s: body: %v", req, addr, err)
	}
	return resp, string(b)
}

// closedByPeer sends an HTTP/1.0 request (no keep-alive) on a new
// connection to addr, reads the response and then waits for the peer to
// close the connection, and only then closes it: the peer closes first, so
// the TIME_WAIT is on its side, on addr's port. It returns the response.
func closedByPeer(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c) // to EOF: the peer's FIN
	if err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) && errno == syscall.ECONNRESET {
			t.Fatalf("%s reset the connection instead of closing it (no TIME_WAIT): %q", addr, b)
		}
		t.Fatalf("%q to %s: %v", req, addr, err)
	}
	if !strings.HasPrefix(string(b), "HTTP/1.") {
		t.Fatalf("%q to %s: %q", req, addr, b)
	}
	return string(b)
}

// proxyGet1_0 is an HTTP/1.0 absolute-form GET of http://target/path.
func proxyGet1_0(target, path string) string {
	return fmt.Sprintf("GET http://%s%s HTTP/1.0\r\nHost: %s\r\n\r\n", target, path, target)
}
