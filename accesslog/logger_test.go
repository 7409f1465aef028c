package accesslog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/proxy"
)

// syncBuffer is a bytes.Buffer safe for the writer goroutine and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// parseLines decodes every line of data as one JSON object.
func parseLines(t *testing.T, data []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d: %v: %q", len(out)+1, err, sc.Bytes())
		}
		out = append(out, m)
	}
	return out
}

func TestLoggerWritesEveryLine(t *testing.T) {
	var buf syncBuffer
	l := New(&buf, Options{})
	const n = 500
	var wg sync.WaitGroup
	for g := range 4 { // concurrent event loops
		wg.Go(func() {
			for i := g; i < n; i += 4 {
				rec := testRecord(i)
				l.Observe(&rec)
				// The record's bytes belong to the caller once Observe returns.
				for j := range rec.Path {
					rec.Path[j] = 'X'
				}
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := parseLines(t, buf.Bytes())
	if len(lines) != n || l.Drops() != 0 {
		t.Fatalf("%d lines, %d drops; want %d, 0", len(lines), l.Drops(), n)
	}
	seen := make(map[int]bool)
	for _, m := range lines {
		i := int(m["bytes_out"].(float64))
		want := testRecord(i)
		if m["path"] != string(want.Path) || m["status"] != float64(want.Status) ||
			m["reused"] != want.Reused || m["host"] != "origin.test" || m["method"] != "GET" {
			t.Errorf("line %d: %v", i, m)
		}
		seen[i] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct lines, want %d", len(seen), n)
	}
	// After Close: dropped, counted, no panic.
	rec := testRecord(0)
	l.Observe(&rec)
	if l.Drops() != 1 {
		t.Errorf("Observe after Close: %d drops, want 1", l.Drops())
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// blockedWriter is a disk that hangs: Write does not return until release
// is closed.
type blockedWriter struct {
	entered chan struct{} // closed by the first Write
	release chan struct{}
	once    sync.Once
	buf     syncBuffer
}

func (w *blockedWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.entered) })
	<-w.release
	return w.buf.Write(p)
}

func TestBlockedWriterDropsInsteadOfBlocking(t *testing.T) {
	w := &blockedWriter{entered: make(chan struct{}), release: make(chan struct{})}
	const queue = 16
	l := New(w, Options{QueueSize: queue})
	rec := testRecord(0)
	l.Observe(&rec)
	<-w.entered // the writer goroutine is now stuck in Write

	const n = 10000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			rec := testRecord(i)
			l.Observe(&rec)
		}
	}()
	select {
	case <-done:
	case <-time.After(time.Minute): // a hang, not a measurement
		t.Fatal("Observe blocked on a blocked writer")
	}
	if d := l.Drops(); d < n-queue {
		t.Errorf("%d drops, want at least %d", d, n-queue)
	}

	close(w.release)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := parseLines(t, w.buf.Bytes())
	if got, want := uint64(len(lines)), uint64(n+1)-l.Drops(); got != want {
		t.Errorf("%d lines written, want %d (%d observed - %d dropped)", got, want, n+1, l.Drops())
	}
}

func TestReopenAfterRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	l, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range 3 {
		rec := testRecord(i)
		l.Observe(&rec)
	}
	// logrotate: rename, then SIGHUP.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	for i := 3; i < 5; i++ {
		rec := testRecord(i)
		l.Observe(&rec)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != ErrClosed {
		t.Errorf("Reopen after Close: %v, want ErrClosed", err)
	}
	for file, want := range map[string][]float64{path + ".1": {0, 1, 2}, path: {3, 4}} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var got []float64
		for _, m := range parseLines(t, data) {
			got = append(got, m["bytes_out"].(float64))
		}
		if len(got) != len(want) {
			t.Errorf("%s: lines %v, want %v", filepath.Base(file), got, want)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&^0o644 != 0 {
		t.Errorf("mode %v", fi.Mode())
	}
}

func TestOpenAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	if err := os.WriteFile(path, []byte("{\"old\":1}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec := testRecord(7)
	l.Observe(&rec)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if lines := parseLines(t, data); len(lines) != 2 || lines[0]["old"] != 1.0 || lines[1]["bytes_out"] != 7.0 {
		t.Errorf("file: %s", data)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "no", "such", "dir"), Options{}); err == nil {
		t.Error("Open in a missing directory: no error")
	}
}

func TestDisabled(t *testing.T) {
	l, err := Open("", Options{})
	if l != nil || err != nil {
		t.Fatalf("Open(\"\") = %v, %v; want nil, nil", l, err)
	}
	// A nil *Logger is a no-op, also behind the interface.
	var obs proxy.Observer = l
	rec := testRecord(0)
	obs.Observe(&rec)
	if l.Drops() != 0 || l.WriteErrors() != 0 || l.Reopen() != nil || l.Close() != nil {
		t.Error("nil Logger is not a no-op")
	}
}

// failingWriter fails every write after the first n bytes.
type failingWriter struct {
	mu   sync.Mutex
	fail bool
	buf  bytes.Buffer
}

func (w *failingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail {
		return 0, io.ErrShortWrite
	}
	return w.buf.Write(p)
}

func TestWriteErrorsDoNotStick(t *testing.T) {
	w := &failingWriter{fail: true}
	l := New(w, Options{})
	rec := testRecord(1)
	l.Observe(&rec)
	for l.WriteErrors() == 0 {
		time.Sleep(time.Millisecond) // polling a counter the writer sets
	}
	w.mu.Lock()
	w.fail = false
	w.mu.Unlock()
	rec = testRecord(2)
	l.Observe(&rec)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if lines := parseLines(t, w.buf.Bytes()); len(lines) != 1 || lines[0]["bytes_out"] != 2.0 {
		t.Errorf("after a failure: %s", w.buf.Bytes())
	}
}

func TestObserveAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	l := New(io.Discard, Options{})
	defer l.Close()
	rec := testRecord(3)
	// Steady state is a writer that keeps up: fill the pool with more
	// buffers than the measurement takes, and let the writer drain them.
	// (A tight loop of Observe outruns the writer until the queue is full.)
	const runs = 1000
	for range 2 * runs {
		l.Observe(&rec)
	}
	for len(l.q) > 0 {
		time.Sleep(time.Millisecond) // polling the writer's progress
	}
	if n := testing.AllocsPerRun(runs, func() { l.Observe(&rec) }); n != 0 {
		t.Errorf("Observe: %v allocations per call", n)
	}
}

// BenchmarkObserve is the access log's cost per request on the event loop
// (encode and enqueue), with the writer goroutine writing to io.Discard.
// Every 1024 lines it waits, off the clock, for the writer to empty the
// queue: a tight loop of Observe produces lines faster than one writer
// goroutine takes them, and the dropped lines, which skip the encoding,
// would make Observe look cheaper than it is.
func BenchmarkObserve(b *testing.B) {
	l := New(io.Discard, Options{})
	defer l.Close()
	rec := testRecord(3)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.Observe(&rec)
		if i++; i%1024 == 0 {
			b.StopTimer()
			for len(l.q) > 0 {
				time.Sleep(time.Millisecond)
			}
			b.StartTimer()
		}
	}
	b.ReportMetric(float64(l.Drops())/float64(b.N), "drops/op")
}

// BenchmarkObserveParallel is Observe from every P at once, unpaced: the
// drops/op it reports is the share of lines the one writer could not take.
func BenchmarkObserveParallel(b *testing.B) {
	l := New(io.Discard, Options{})
	defer l.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		rec := testRecord(3)
		for pb.Next() {
			l.Observe(&rec)
		}
	})
	b.ReportMetric(float64(l.Drops())/float64(b.N), "drops/op")
}

// writeNotifier passes each Write to the test.
type writeNotifier chan []byte

func (w writeNotifier) Write(p []byte) (int, error) {
	w <- bytes.Clone(p)
	return len(p), nil
}

func TestBatching(t *testing.T) {
	w := make(writeNotifier, 10)
	l := New(w, Options{QueueSize: 8, FlushInterval: time.Hour})
	// The first line wakes the writer, which then waits for more; the
	// queue half full (4 lines) makes it write them all at once, without
	// waiting for the interval.
	for i := range 5 {
		rec := testRecord(i)
		l.Observe(&rec)
	}
	if got := parseLines(t, <-w); len(got) != 5 {
		t.Errorf("first write: %d lines, want 5 in one write", len(got))
	}
	// A lone line waits for the interval, or for Close.
	rec := testRecord(5)
	l.Observe(&rec)
	select {
	case p := <-w:
		t.Errorf("a lone line was written before the flush interval: %q", p)
	default:
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := parseLines(t, <-w); len(got) != 1 || got[0]["bytes_out"] != 5.0 {
		t.Errorf("Close wrote %v", got)
	}
}
