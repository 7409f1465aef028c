package policy

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// slowCompare replaces bcrypt with a compare that waits for the test: it
// reports each start on started and finishes when release yields (one send
// lets one finish, close lets all).
type slowCompare struct {
	started chan struct{}
	release chan struct{}
	calls   atomic.Int32
	running atomic.Int32
	peak    atomic.Int32 // most running at once
}

// verifyPolicy compiles a policy with auth over users (alice:a, bob:b) and
// the bounds of cfg, and makes its bcrypt slow.
func verifyPolicy(t *testing.T, cfg AuthConfig) (*Policy, *slowCompare) {
	t.Helper()
	cfg.Htpasswd = writeHtpasswd(t, t.TempDir(), map[string]string{"alice": "a", "bob": "b"})
	p := mustCompile(t, Config{Auth: &cfg})
	s := &slowCompare{started: make(chan struct{}, 1000), release: make(chan struct{})}
	p.auth.compare = func(hash, pw []byte) error {
		s.calls.Add(1)
		n := s.running.Add(1)
		for m := s.peak.Load(); n > m && !s.peak.CompareAndSwap(m, n); m = s.peak.Load() {
		}
		s.started <- struct{}{}
		<-s.release
		s.running.Add(-1)
		return bcrypt.CompareHashAndPassword(hash, pw)
	}
	return p, s
}

// verifyResult is what a done callback got.
type verifyResult struct {
	user string
	ok   bool
}

// collector returns a done callback sending to a channel, and the channel.
func collector() (func(string, bool), chan verifyResult) {
	ch := make(chan verifyResult, 1000)
	return func(user string, ok bool) { ch <- verifyResult{user, ok} }, ch
}

// receive returns n results or fails after a long while.
func receive(t *testing.T, ch chan verifyResult, n int) []verifyResult {
	t.Helper()
	var got []verifyResult
	timeout := time.After(30 * time.Second)
	for len(got) < n {
		select {
		case r := <-ch:
			got = append(got, r)
		case <-timeout:
			t.Fatalf("got %d results, want %d", len(got), n)
		}
	}
	return got
}

// waitStarted waits for n compares to have started.
func (s *slowCompare) waitStarted(t *testing.T, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-s.started:
		case <-time.After(30 * time.Second):
			t.Fatalf("%d of %d compares started", i, n)
		}
	}
}

// poolState returns the verifier's counts.
func poolState(p *Policy) (running, queued, inflight, clients int) {
	v := &p.auth.pool
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.running, len(v.queue), len(v.inflight), len(v.perClient)
}

func TestVerifyWorkersBound(t *testing.T) {
	p, s := verifyPolicy(t, AuthConfig{Workers: 2, Queue: 10, MaxPerClient: 10})
	done, ch := collector()
	client := addr("192.0.2.1")
	for i := 0; i < 5; i++ {
		if err := p.Verify(client, basic("alice", fmt.Sprint("wrong", i)), done); err != nil {
			t.Fatalf("Verify %d: %v", i, err)
		}
	}
	if err := p.Verify(client, basic("alice", "a"), done); err != nil {
		t.Fatal(err)
	}
	s.waitStarted(t, 2)
	if running, queued, inflight, _ := poolState(p); running != 2 || queued != 4 || inflight != 6 {
		t.Fatalf("running %d queued %d inflight %d, want 2 4 6", running, queued, inflight)
	}
	select {
	case <-s.started:
		t.Fatal("a third compare started")
	default:
	}
	close(s.release)
	got := receive(t, ch, 6)
	okCount := 0
	for _, r := range got {
		if r.ok {
			okCount++
			if r.user != "alice" {
				t.Errorf("ok for user %q", r.user)
			}
		} else if r.user != "" {
			t.Errorf("refused with user %q", r.user)
		}
	}
	if okCount != 1 {
		t.Errorf("%d accepted, want 1", okCount)
	}
	if s.peak.Load() > 2 || s.calls.Load() != 6 {
		t.Errorf("peak %d compares at once (want <= 2), %d calls (want 6)", s.peak.Load(), s.calls.Load())
	}
}

func TestVerifyQueueBound(t *testing.T) {
	p, s := verifyPolicy(t, AuthConfig{Workers: 1, Queue: 2, MaxPerClient: 10})
	done, ch := collector()
	for i := 0; i < 3; i++ { // one running, two waiting
		if err := p.Verify(addr(fmt.Sprint("192.0.2.", i+1)), basic("alice", fmt.Sprint("p", i)), done); err != nil {
			t.Fatalf("Verify %d: %v", i, err)
		}
	}
	s.waitStarted(t, 1)
	called := false
	err := p.Verify(addr("192.0.2.9"), basic("bob", "x"), func(string, bool) { called = true })
	if err != ErrAuthOverloaded || called {
		t.Fatalf("Verify on a full queue = %v (done called: %v), want ErrAuthOverloaded", err, called)
	}
	if e := policyError(t, err); e.Status != 503 || e.Reason != "proxy authentication overloaded" {
		t.Errorf("ErrAuthOverloaded = %d %q", e.Status, e.Reason)
	}
	// Joining a verification in flight costs no queue place.
	if err := p.Verify(addr("192.0.2.10"), basic("alice", "p2"), done); err != nil {
		t.Fatalf("joining on a full queue: %v", err)
	}
	close(s.release)
	receive(t, ch, 4)
	if s.calls.Load() != 3 {
		t.Errorf("%d compares, want 3", s.calls.Load())
	}
	if err := p.Verify(addr("192.0.2.9"), basic("bob", "x"), done); err != nil {
		t.Fatalf("after the queue emptied: %v", err)
	}
	receive(t, ch, 1)
}

func TestVerifyPerClientBound(t *testing.T) {
	p, s := verifyPolicy(t, AuthConfig{Workers: 1, Queue: 10, MaxPerClient: 2})
	done, ch := collector()
	a, b := addr("192.0.2.1"), addr("2001:db8::1")
	for i := 0; i < 2; i++ {
		if err := p.Verify(a, basic("alice", fmt.Sprint("p", i)), done); err != nil {
			t.Fatalf("Verify %d: %v", i, err)
		}
	}
	tests := []struct {
		name   string
		client netip.Addr
		header []byte
		want   error
	}{
		{"third of a", a, basic("alice", "p2"), ErrAuthClientBusy},
		{"third of a, mapped", addr("::ffff:192.0.2.1"), basic("alice", "p3"), ErrAuthClientBusy},
		{"third of a, joining p0", a, basic("alice", "p0"), nil}, // waiting is not charged
		{"b", b, basic("bob", "p0"), nil},
		{"b, zone", addr("2001:db8::1%eth0"), basic("bob", "p1"), nil},
		{"b, third", b, basic("bob", "p2"), ErrAuthClientBusy},
		{"other", addr("192.0.2.2"), basic("bob", "b"), nil},
	}
	queued := 2
	for _, tc := range tests {
		err := p.Verify(tc.client, tc.header, done)
		if err != tc.want {
			t.Errorf("%s: Verify = %v, want %v", tc.name, err, tc.want)
		}
		if err == nil {
			queued++
		}
	}
	if e := policyError(t, ErrAuthClientBusy); e.Status != 429 || e.Reason != "too many proxy authentications in flight from this client" {
		t.Errorf("ErrAuthClientBusy = %d %q", e.Status, e.Reason)
	}
	close(s.release)
	receive(t, ch, queued)
	if err := p.Verify(a, basic("alice", "p9"), done); err != nil {
		t.Fatalf("a after its verifications ended: %v", err)
	}
	receive(t, ch, 1)
	if _, _, inflight, clients := poolState(p); inflight != 0 || clients != 0 {
		t.Errorf("%d in flight, %d clients counted after the end", inflight, clients)
	}
}

func TestVerifySingleflight(t *testing.T) {
	p, s := verifyPolicy(t, AuthConfig{Workers: 4})
	done, ch := collector()
	h := basic("alice", "a")
	client := addr("192.0.2.1") // one client: waiting is not charged
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := p.Verify(client, h, done); err != nil {
				t.Errorf("Verify: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait() // every Verify returned while the one compare waits
	s.waitStarted(t, 1)
	close(s.release)
	for _, r := range receive(t, ch, 10) {
		if r != (verifyResult{"alice", true}) {
			t.Errorf("result %+v", r)
		}
	}
	if s.calls.Load() != 1 {
		t.Errorf("%d compares for one credential, want 1", s.calls.Load())
	}
}

func TestVerifySynchronous(t *testing.T) {
	p, s := verifyPolicy(t, AuthConfig{Workers: 1, Queue: 1})
	// Cache a good and a bad credential, with the compare let through.
	close(s.release)
	for _, h := range [][]byte{basic("alice", "a"), basic("alice", "bad")} {
		done, ch := collector()
		if err := p.Verify(addr("192.0.2.1"), h, done); err != nil {
			t.Fatal(err)
		}
		receive(t, ch, 1)
	}
	s.waitStarted(t, 2)

	// Fill the pool: one running, one waiting.
	s.release = make(chan struct{})
	done, ch := collector()
	for i := 0; i < 2; i++ {
		if err := p.Verify(addr(fmt.Sprint("192.0.2.", 10+i)), basic("bob", fmt.Sprint("p", i)), done); err != nil {
			t.Fatal(err)
		}
	}
	s.waitStarted(t, 1)
	if err := p.Verify(addr("192.0.2.20"), basic("bob", "p9"), done); !errors.Is(err, ErrAuthOverloaded) {
		t.Fatalf("full: %v", err)
	}

	tests := []struct {
		name   string
		header string
		want   verifyResult
	}{
		{"cached good", string(basic("alice", "a")), verifyResult{"alice", true}},
		{"cached bad", string(basic("alice", "bad")), verifyResult{"", false}},
		{"empty", "", verifyResult{"", false}},
		{"bearer", "Bearer x", verifyResult{"", false}},
		{"not base64", "Basic !!!", verifyResult{"", false}},
		{"no colon", "Basic YWxpY2U=", verifyResult{"", false}},
	}
	for _, tc := range tests {
		var got *verifyResult
		err := p.Verify(addr("192.0.2.30"), []byte(tc.header), func(user string, ok bool) {
			got = &verifyResult{user, ok}
		})
		if err != nil || got == nil || *got != tc.want {
			t.Errorf("%s: Verify = %v, done before return: %v, want %+v", tc.name, err, got, tc.want)
		}
	}
	close(s.release)
	receive(t, ch, 2)

	noAuth := mustCompile(t, Config{})
	called := false
	if err := noAuth.Verify(addr("192.0.2.1"), nil, func(user string, ok bool) { called = ok && user == "" }); err != nil || !called {
		t.Errorf("without auth: %v, called %v", err, called)
	}
}

func TestVerifyCopiesHeader(t *testing.T) {
	p, s := verifyPolicy(t, AuthConfig{Workers: 1})
	done, ch := collector()
	h := basic("alice", "a")
	if err := p.Verify(addr("192.0.2.1"), h, done); err != nil {
		t.Fatal(err)
	}
	clear(h) // the caller reuses its buffer
	close(s.release)
	if r := receive(t, ch, 1)[0]; r != (verifyResult{"alice", true}) {
		t.Errorf("result %+v after the header buffer was reused", r)
	}
}

func TestVerifyNoGoroutineLeak(t *testing.T) {
	base := runtime.NumGoroutine()
	p, s := verifyPolicy(t, AuthConfig{Workers: 4, Queue: 64, MaxPerClient: 64})
	done, ch := collector()
	for i := 0; i < 40; i++ {
		if err := p.Verify(addr(fmt.Sprint("192.0.2.", i%8)), basic("alice", fmt.Sprint("p", i)), done); err != nil {
			t.Fatal(err)
		}
	}
	if running, _, _, _ := poolState(p); running != 4 {
		t.Errorf("%d workers, want 4", running)
	}
	close(s.release)
	receive(t, ch, 40)
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, %d before", runtime.NumGoroutine(), base)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond) // polling the count, not synchronising
	}
	if running, queued, inflight, clients := poolState(p); running+queued+inflight+clients != 0 {
		t.Errorf("after the end: running %d queued %d inflight %d clients %d", running, queued, inflight, clients)
	}
	if s.peak.Load() > 4 {
		t.Errorf("%d compares at once, want <= 4", s.peak.Load())
	}
}

func TestDefaultAuthWorkers(t *testing.T) {
	path := writeHtpasswd(t, t.TempDir(), map[string]string{"a": "b"})
	p := mustCompile(t, Config{Auth: &AuthConfig{Htpasswd: path}})
	v := &p.auth.pool
	if v.workers != max(1, runtime.GOMAXPROCS(0)/2) || v.workers != DefaultAuthWorkers() ||
		v.queueMax != DefaultAuthQueue || v.maxPerClient != DefaultAuthMaxPerClient {
		t.Errorf("defaults: workers %d queue %d per client %d", v.workers, v.queueMax, v.maxPerClient)
	}
}
