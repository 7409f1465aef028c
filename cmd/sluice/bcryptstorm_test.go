package main

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/sluiceproxy/sluice/resolver/dnstest"
)

// stormPause is how long a storm client waits between guesses: 200 clients
// x 10 guesses/s is 2,000 guesses/s, a hundred times what one bcrypt worker
// verifies, so the verifier's queue stays full for the whole storm. (With
// no pause, about 27,000 guesses/s, the verified client's p99 measured
// 42 ms on the 2-core test machine: then the load itself, not bcrypt, is
// what it waits behind.)
var stormPause = 100 * time.Millisecond

// TestBcryptStorm (red-team finding 2) runs the binary with proxy auth
// (bcrypt cost 10) and sends it 200 concurrent connections guessing alice's
// password, from 50 client addresses, while a client whose credential is
// verified is timed. Verification runs on a bounded pool, so the storm gets
// 407, 429 (per-client cap) or 503 (queue full) and the verified client's
// latency stays that of a cached credential. The proxy runs in its own
// process, as it would in production; the storm and the timed client share
// this one.
func TestBcryptStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("runs bcrypt for seconds")
	}
	oport := textOrigin(t, "hello")
	dns := dnstest.New(t)
	dns.Set("origin.test", 60, "127.0.0.1")

	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.DefaultCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	os.WriteFile(htpasswd, []byte("alice:"+string(hash)+"\n"), 0o600)
	cfg := filepath.Join(dir, "sluice.yaml")
	os.WriteFile(cfg, []byte("policy:\n  client_cidrs: [127.0.0.0/8]\n  auth:\n    htpasswd: "+htpasswd+"\n"), 0o600)
	proxy, stderr := startBinary(t, "-config", cfg, "-dns", dns.Addr(), "-access-log", "")

	req := func(pass string) string {
		cred := base64.StdEncoding.EncodeToString([]byte("alice:" + pass))
		return fmt.Sprintf("GET http://origin.test:%d/ HTTP/1.1\r\nHost: origin.test\r\nProxy-Authorization: Basic %s\r\n\r\n",
			oport, cred)
	}
	good, err := net.Dial("tcp", proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	good.SetDeadline(time.Now().Add(60 * time.Second))
	gbr := bufio.NewReader(good)
	// timeGood times n requests of the verified client.
	timeGood := func(n int) (p50, p99 time.Duration) {
		var lat []time.Duration
		for i := 0; i < n; i++ {
			start := time.Now()
			io.WriteString(good, req("s3cret"))
			resp, err := http.ReadResponse(gbr, nil)
			if err != nil {
				t.Fatalf("verified client: %v\n%s", err, stderr)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			lat = append(lat, time.Since(start))
			if resp.StatusCode != 200 {
				t.Fatalf("verified client: %d", resp.StatusCode)
			}
			time.Sleep(10 * time.Millisecond)
		}
		slices.Sort(lat)
		return lat[len(lat)/2], lat[len(lat)*99/100]
	}
	timeGood(1)               // verified once (a bcrypt), then cached
	q50, q99 := timeGood(200) // the same client, no storm: the baseline

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// Each storm client keeps its connection and guesses again;
			// it reconnects when closed.
			d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 3, byte(2+i%50))}}
			var c net.Conn
			var br *bufio.Reader
			defer func() {
				if c != nil {
					c.Close()
				}
			}()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if c == nil {
					var err error
					if c, err = d.Dial("tcp", proxy); err != nil {
						c = nil
						continue
					}
					br = bufio.NewReader(c)
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				io.WriteString(c, req(fmt.Sprintf("guess-%d-%d", i, n)))
				resp, err := http.ReadResponse(br, nil)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					mu.Lock()
					statuses[resp.StatusCode]++
					mu.Unlock()
				}
				if err != nil || resp.Close {
					c.Close()
					c = nil
				}
				time.Sleep(stormPause)
			}
		}(i)
	}
	time.Sleep(300 * time.Millisecond) // the storm is on
	p50, p99 := timeGood(200)
	close(stop)
	wg.Wait()
	t.Logf("storm answers %v; verified client p50 %v p99 %v (without the storm: p50 %v p99 %v)", statuses, p50, p99, q50, q99)
	for code := range statuses {
		if code != 407 && code != 429 && code != 503 {
			t.Errorf("storm got status %d", code)
		}
	}
	if statuses[429]+statuses[503] == 0 {
		t.Error("no storm request was refused before bcrypt")
	}
	// The figure asked for is p99 < 50 ms (the closing note reports it);
	// this bound only catches a return of the unbounded verifier (2-5 s),
	// on a shared machine under -race.
	if p99 > time.Second {
		t.Fatalf("verified client p99 %v during the storm", p99)
	}
}
