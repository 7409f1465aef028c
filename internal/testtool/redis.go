package testtool

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Redis is a redis-server started by a test: on a loopback port the
// kernel chose free, without persistence (--save "" --appendonly no), in a
// temporary directory. It is killed at the end of the test. Its methods
// are for the test's goroutine.
type Redis struct {
	// Addr is the server's address, 127.0.0.1:port; it stays the same
	// across Kill and Start.
	Addr string

	t    testing.TB
	path string // of redis-server
	dir  string
	out  *Buffer       // the server's output, for failures
	cmd  *exec.Cmd     // nil while not running
	done chan struct{} // closed when cmd has exited
}

// StartRedis starts a redis-server for t, installing Debian's
// redis-server package when it is missing (Find's rules), or skips t if
// there is none. It fails t if the server does not answer PING within 10
// seconds.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	r := &Redis{t: t, path: Require(t, "redis-server", "redis-server"), dir: t.TempDir(), out: &Buffer{}}
	t.Cleanup(r.Kill)
	var err error
	for range 5 { // the port picked may be taken before the server binds it
		r.Addr = "127.0.0.1:" + strconv.Itoa(freeLoopbackPort(t))
		if err = r.start(); err == nil {
			return r
		}
	}
	t.Fatalf("redis-server: %v\n%s", err, r.out.String())
	return nil
}

// Start starts the server again, on the same address, after Kill.
func (r *Redis) Start() {
	r.t.Helper()
	if err := r.start(); err != nil {
		r.t.Fatalf("redis-server: %v\n%s", err, r.out.String())
	}
}

// Kill kills the server (SIGKILL: no goodbye to its clients) and waits
// for it to exit. It does nothing if the server is not running.
func (r *Redis) Kill() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.done
	r.cmd = nil
}

// start runs the server on r.Addr and waits until it answers PING.
func (r *Redis) start() error {
	_, port, _ := net.SplitHostPort(r.Addr)
	cmd := exec.Command(r.path, "--port", port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--daemonize", "no", "--logfile", "")
	cmd.Stdout, cmd.Stderr = r.out, r.out
	killWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	r.cmd, r.done = cmd, done
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := redisPing(r.Addr); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			r.Kill()
			return fmt.Errorf("no PONG on %s within 10s: %v", r.Addr, err)
		}
		select {
		case <-done:
			r.cmd = nil
			return fmt.Errorf("exited before answering on %s", r.Addr)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// redisPing sends PING to addr and expects +PONG.
func redisPing(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// freeLoopbackPort returns a TCP port that was free on 127.0.0.1 a moment
// ago.
func freeLoopbackPort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Buffer is a bytes.Buffer safe for concurrent writes and reads: a child
// process's stdout and stderr, a logger's output.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer // guarded by mu
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
