package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/resolver/dnstest"
)

// reloadEnv is the binary started with a config file it can rewrite, an
// origin and a DNS server with three names: always.test (allowed by both
// policies), flip.test (allowed by policy A only) and never.test (denied by
// both).
type reloadEnv struct {
	t          *testing.T
	cfg        string
	proxy      string
	admin      string
	oport      int
	cmd        *exec.Cmd
	stderr     *syncBuffer
	fileBefore string
}

const (
	policyA = "policy:\n  rules:\n    - {name: no-never, hosts: [never.test], action: deny}\n"
	policyB = "policy:\n  rules:\n    - {name: no-never, hosts: [never.test], action: deny}\n    - {name: no-flip, hosts: [flip.test], action: deny}\n"
)

func newReloadEnv(t *testing.T, body string) *reloadEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	oport := textOrigin(t, "ok")
	dns := dnstest.New(t)
	for _, h := range []string{"always.test", "flip.test", "never.test"} {
		dns.Set(h, 3600, "127.0.0.1")
	}
	e := &reloadEnv{t: t, cfg: filepath.Join(t.TempDir(), "sluice.yaml"), oport: oport}
	e.write(body)
	pl, _ := net.Listen("tcp", "127.0.0.1:0")
	e.proxy = pl.Addr().String()
	pl.Close()
	e.cmd = exec.Command(buildBinary(t), "-config", e.cfg, "-listen", e.proxy, "-admin", "127.0.0.1:0",
		"-dns", dns.Addr(), "-access-log", "")
	e.stderr = &syncBuffer{}
	e.cmd.Stderr = e.stderr
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.cmd.Process.Kill(); e.cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for e.admin == "" {
		if m := adminLogRE.FindSubmatch(e.stderr.Bytes()); m != nil {
			e.admin = "127.0.0.1:" + string(m[1])
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no admin address logged: %s", e.stderr.Bytes())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return e
}

// write replaces the config file atomically, as an operator's tool would.
func (e *reloadEnv) write(body string) {
	tmp := e.cfg + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Rename(tmp, e.cfg); err != nil {
		e.t.Fatal(err)
	}
}

// get sends one request for host on a new connection.
func (e *reloadEnv) get(host string) int {
	e.t.Helper()
	c, err := net.Dial("tcp", e.proxy)
	if err != nil {
		e.t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET http://%s:%d/ HTTP/1.1\r\nHost: %s\r\n\r\n", host, e.oport, host)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		e.t.Fatalf("%s: %v", host, err)
	}
	return resp.StatusCode
}

// reload posts /reload and returns the status and body.
func (e *reloadEnv) reload() (int, string) {
	resp, err := http.Post("http://"+e.admin+"/reload", "", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric returns the value of a sample line of /metrics.
func (e *reloadEnv) metric(sample string) string {
	resp, err := http.Get("http://" + e.admin + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			return v
		}
	}
	return ""
}

// TestReload: SIGHUP and POST /reload swap the policy (a host denied before
// is allowed after, and back); a bad file keeps the policy in force, answers
// 400 naming file and line, and counts a failure; settings that need a
// restart are logged as ignored; /config shows when it was loaded.
func TestReload(t *testing.T) {
	e := newReloadEnv(t, policyB)
	if got := e.get("flip.test"); got != 403 {
		t.Fatalf("flip.test under B: %d", got)
	}
	e.write(policyA)
	e.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(5 * time.Second)
	for e.get("flip.test") != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("SIGHUP did not reload:\n%s", e.stderr.Bytes())
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.write(policyB)
	if code, body := e.reload(); code != 200 {
		t.Fatalf("POST /reload: %d %s", code, body)
	}
	if got := e.get("flip.test"); got != 403 {
		t.Fatalf("flip.test back under B: %d", got)
	}
	// A bad file: the policy in force stays.
	e.write(policyA + "    - {name: bad, hosts: [\"a b\"], action: allow}\n")
	code, body := e.reload()
	if code != 400 || !strings.Contains(body, "sluice.yaml:4:") || !strings.Contains(body, "hosts[0]") {
		t.Fatalf("bad file: %d %q", code, body)
	}
	if got := e.get("flip.test"); got != 403 {
		t.Fatalf("after a bad reload: %d", got)
	}
	if v := e.metric(`sluice_config_reloads_total{result="failure"}`); v != "1" {
		t.Fatalf("failed reloads metric %q", v)
	}
	if v := e.metric(`sluice_config_reloads_total{result="success"}`); v != "2" {
		t.Fatalf("successful reloads metric %q", v)
	}
	// A restart-only setting: logged, ignored; the rest applies.
	e.write("listen: 127.0.0.1:1\ntimeouts:\n  connect: 2s\n" + policyA)
	if code, body := e.reload(); code != 200 {
		t.Fatalf("reload with a restart-only change: %d %s", code, body)
	}
	if got := e.get("flip.test"); got != 200 {
		t.Fatalf("policy of a reload with ignored settings: %d", got)
	}
	log := string(e.stderr.Bytes())
	if !strings.Contains(log, "change only with a restart") || !strings.Contains(log, "listen") || !strings.Contains(log, "timeouts.connect") {
		t.Fatalf("ignored settings not logged:\n%s", log)
	}
	resp, err := http.Get("http://" + e.admin + "/config")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	loaded, err := time.Parse(time.RFC3339, resp.Header.Get("Sluice-Config-Loaded"))
	if err != nil || time.Since(loaded) > time.Minute {
		t.Fatalf("Sluice-Config-Loaded %q", resp.Header.Get("Sluice-Config-Loaded"))
	}
	if !strings.Contains(string(b), "listen: "+e.proxy) || strings.Contains(string(b), "no-flip") {
		t.Fatalf("/config after the reload:\n%s", b)
	}
}

// TestReloadUnderLoad: 50 keep-alive clients send requests to a host both
// policies allow, one only A allows, and one both deny, while the policy is
// reloaded 100 times, alternating: no request fails or is reset, and every
// answer is one of the two policies'.
func TestReloadUnderLoad(t *testing.T) {
	e := newReloadEnv(t, policyA)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var total, bad atomic.Int64
	var mu sync.Mutex
	var badSample []string
	hosts := []string{"always.test", "flip.test", "never.test"}
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := net.Dial("tcp", e.proxy)
			if err != nil {
				bad.Add(1)
				return
			}
			defer c.Close()
			br := bufio.NewReader(c)
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				host := hosts[(i+n)%3]
				c.SetDeadline(time.Now().Add(10 * time.Second))
				fmt.Fprintf(c, "GET http://%s:%d/ HTTP/1.1\r\nHost: %s\r\n\r\n", host, e.oport, host)
				resp, err := http.ReadResponse(br, nil)
				ok := err == nil
				if ok {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					switch host {
					case "always.test":
						ok = resp.StatusCode == 200
					case "flip.test":
						ok = resp.StatusCode == 200 || resp.StatusCode == 403
					case "never.test":
						ok = resp.StatusCode == 403
					}
				}
				total.Add(1)
				if !ok {
					bad.Add(1)
					mu.Lock()
					badSample = append(badSample, fmt.Sprintf("%s: %v %v", host, err, resp))
					mu.Unlock()
					return
				}
			}
		}(i)
	}
	for i := 0; i < 100; i++ {
		body := policyA
		if i%2 == 0 {
			body = policyB
		}
		e.write(body)
		if code, msg := e.reload(); code != 200 {
			t.Fatalf("reload %d: %d %s", i, code, msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("100 reloads under 50 clients: %d requests, %d failed", total.Load(), bad.Load())
	if bad.Load() != 0 {
		t.Fatalf("%d requests failed: %v", bad.Load(), badSample)
	}
	if v := e.metric(`sluice_config_reloads_total{result="success"}`); v != "100" {
		t.Fatalf("successful reloads %q", v)
	}
}

// TestCacheFileAcrossRestart: with resolver.cache_file, a restart while the
// only nameserver is down still serves a host the first run resolved.
func TestCacheFileAcrossRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	oport := textOrigin(t, "known")
	dns := dnstest.New(t)
	dns.Set("known.test", 60, "127.0.0.1")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sluice.yaml")
	cache := filepath.Join(dir, "dns-cache.json")
	os.WriteFile(cfg, []byte("resolver:\n  cache_file: "+cache+"\n  query_timeout: 1s\n"), 0o600)
	get := func(proxy, host string) (int, string) {
		c, err := net.Dial("tcp", proxy)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET http://%s:%d/ HTTP/1.1\r\nHost: %s\r\n\r\n", host, oport, host)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	addr, stderr, cmd := startBinaryCmd(t, "-config", cfg, "-dns", dns.Addr(), "-access-log", "")
	if code, body := get(addr, "known.test"); code != 200 || body != "known" {
		t.Fatalf("first run: %d %q\n%s", code, body, stderr)
	}
	cmd.Process.Signal(syscall.SIGTERM) // the file is written at shutdown
	cmd.Wait()
	if b, err := os.ReadFile(cache); err != nil || !strings.Contains(string(b), "known.test") {
		t.Fatalf("cache file: %v %q", err, b)
	}
	dns.Close() // every nameserver down
	addr, stderr, _ = startBinaryCmd(t, "-config", cfg, "-dns", dns.Addr(), "-access-log", "")
	if code, body := get(addr, "known.test"); code != 200 || body != "known" {
		t.Fatalf("after the restart with DNS down: %d %q\n%s", code, body, stderr)
	}
	if code, _ := get(addr, "unknown.test"); code != 503 && code != 504 {
		t.Fatalf("an unknown host with DNS down: %d", code)
	}
	// A corrupt file is ignored, never fatal.
	os.WriteFile(cache, []byte("{not json"), 0o600)
	addr, stderr, cmd = startBinaryCmd(t, "-config", cfg, "-dns", dns.Addr(), "-access-log", "")
	code, _ := get(addr, "unknown.test")
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait() // stderr is complete, and no longer written
	if code != 503 && code != 504 {
		t.Fatalf("with a corrupt cache file: %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr.String(), "cache file") {
		t.Fatalf("no warning for the corrupt cache file:\n%s", stderr)
	}
}

// TestSIGTERMReadiness is the Kubernetes shutdown sequence on the binary:
// /readyz fails at once on SIGTERM while /livez stays up; with
// drain.pre_stop_delay the proxy keeps accepting and serving for that long;
// then it drains and exits 0.
func TestSIGTERMReadiness(t *testing.T) {
	e := newReloadEnv(t, "drain:\n  pre_stop_delay: 1500ms\n"+policyA)
	status := func(path string) int {
		resp, err := http.Get("http://" + e.admin + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status("/readyz"); got != 200 {
		t.Fatalf("/readyz before SIGTERM: %d", got)
	}
	e.cmd.Process.Signal(syscall.SIGTERM)
	start := time.Now()
	deadline := start.Add(time.Second)
	for status("/readyz") != 503 {
		if time.Now().After(deadline) {
			t.Fatal("/readyz still ready a second after SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := status("/livez"); got != 200 {
		t.Fatalf("/livez during the pre-stop delay: %d", got)
	}
	// New connections are still served during the delay.
	if got := e.get("always.test"); got != 200 {
		t.Fatalf("a request during the pre-stop delay: %d", got)
	}
	exited := make(chan error, 1)
	go func() { exited <- e.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
		if d := time.Since(start); d < 1500*time.Millisecond {
			t.Fatalf("exited %v after SIGTERM, before the pre-stop delay", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after the drain")
	}
	if !strings.Contains(string(e.stderr.Bytes()), "pre-stop delay") {
		t.Fatalf("no pre-stop log line:\n%s", e.stderr.Bytes())
	}
}
