package engine

import (
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/resolver"
)

// samePortOrigins serves on 127.0.0.x:P for each x in hosts, one port P for
// all (as one name's A records point at one service), each counting the
// connections it accepts. Every answer waits delay and closes its
// connection when closeConns is set.
func samePortOrigins(t *testing.T, hosts []int, delay time.Duration, closeConns bool) (int, []*atomic.Int64) {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		if closeConns {
			w.Header().Set("Connection", "close")
		}
		fmt.Fprint(w, "ok")
	})
	for try := 0; try < 20; try++ {
		first, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", hosts[0]))
		if err != nil {
			t.Fatal(err)
		}
		port := first.Addr().(*net.TCPAddr).Port
		lns := []net.Listener{first}
		for _, x := range hosts[1:] {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:%d", x, port))
			if err != nil {
				break // the port is taken on that address: another port
			}
			lns = append(lns, ln)
		}
		if len(lns) < len(hosts) {
			for _, ln := range lns {
				ln.Close()
			}
			continue
		}
		counts := make([]*atomic.Int64, len(lns))
		for i, ln := range lns {
			counts[i] = new(atomic.Int64)
			srv := &http.Server{Handler: h}
			go srv.Serve(countingListener{ln, counts[i]})
			t.Cleanup(func() { srv.Close() })
		}
		return port, counts
	}
	t.Fatal("no port free on every address")
	return 0, nil
}

// TestSpreadAddresses: new upstream connections for a name with three
// addresses go to all three, about evenly (fewest open connections), not
// all to the first.
func TestSpreadAddresses(t *testing.T) { forEngines(t, testSpreadAddresses) }

func testSpreadAddresses(t *testing.T) {
	port, counts := samePortOrigins(t, []int{1, 2, 3}, 300*time.Millisecond, false)
	e := newEnv(t, Config{})
	e.dns.Set("multi.test", 60, "127.0.0.1", "127.0.0.2", "127.0.0.3")
	statuses, _ := e.fanOut(t, 30, fmt.Sprintf("http://multi.test:%d/", port))
	for i, s := range statuses {
		if s != 200 {
			t.Fatalf("request %d: status %d", i, s)
		}
	}
	var total int64
	for i, c := range counts {
		n := c.Load()
		total += n
		if n < 7 {
			t.Errorf("127.0.0.%d got %d of the connections", i+1, n)
		}
	}
	if total < 30 {
		t.Fatalf("%d connections for 30 concurrent requests", total)
	}
}

// TestSpreadAvoidsFailed: an address that refused a connection is avoided
// afterwards: of many requests, each needing a new connection, only the
// first tries it.
func TestSpreadAvoidsFailed(t *testing.T) { forEngines(t, testSpreadAvoidsFailed) }

func testSpreadAvoidsFailed(t *testing.T) {
	port, counts := samePortOrigins(t, []int{1}, 0, true)
	e := newEnv(t, Config{})
	e.dns.Set("half.test", 60, "127.0.0.1", "127.0.0.9") // nothing listens on .9
	u := fmt.Sprintf("http://half.test:%d/", port)
	for i := 0; i < 12; i++ {
		if status, body, _ := e.getWith(t, u); status != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q", i, status, body)
		}
	}
	if n := counts[0].Load(); n != 12 {
		t.Fatalf("the live address accepted %d connections, want 12", n)
	}
	if n := e.srv.ctr.dialErrors.Load(); n > 1 {
		t.Fatalf("%d failed dials: the refusing address was tried again", n)
	}
}

// TestHappyEyeballsRace: with resolver.family all, a name with an IPv6
// address that refuses and an IPv4 one that answers: the IPv4 attempt
// starts at once when the IPv6 one fails, within the same dial (no failed
// dial is reported).
func TestHappyEyeballsRace(t *testing.T) { forEngines(t, testHappyEyeballsRace) }

func testHappyEyeballsRace(t *testing.T) {
	port, counts := samePortOrigins(t, []int{1}, 0, false)
	rec := &recorder{}
	e := newEnv(t, Config{Observer: rec}, func(c *resolver.Config) { c.Family = resolver.FamilyAll })
	e.dns.Set("he.test", 60, "::1", "127.0.0.1") // nothing listens on [::1]:port
	if status, body, _ := e.getWith(t, fmt.Sprintf("http://he.test:%d/", port)); status != 200 || body != "ok" {
		t.Fatalf("%d %q", status, body)
	}
	if n := e.srv.ctr.dialErrors.Load(); n != 0 || counts[0].Load() != 1 {
		t.Fatalf("%d failed dials, %d connections to IPv4", n, counts[0].Load())
	}
}
