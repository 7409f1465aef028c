package metrics

import (
	"testing"

	"github.com/sluiceproxy/sluice/proxy"
)

type countObserver struct{ n int }

func (c *countObserver) Observe(*proxy.Record) { c.n++ }

func TestNewMulti(t *testing.T) {
	var nilMetrics *Metrics
	var nilCounter *countObserver
	if o := NewMulti(); o != nil {
		t.Errorf("NewMulti() = %v, want nil", o)
	}
	if o := NewMulti(nil, nilMetrics, nilCounter); o != nil {
		t.Errorf("NewMulti(nils) = %v, want nil", o)
	}
	a := &countObserver{}
	if o := NewMulti(nil, a, nilMetrics); o != proxy.Observer(a) {
		t.Errorf("NewMulti(one) = %v, want the one", o)
	}
	b := &countObserver{}
	m := New(Sources{})
	o := NewMulti(a, nilCounter, b, m)
	r := rec("GET", 200, 0, 0, 0)
	o.Observe(&r)
	o.Observe(&r)
	if a.n != 2 || b.n != 2 {
		t.Errorf("counts %d, %d; want 2, 2", a.n, b.n)
	}
	if v := value(t, scrape(t, m), `sluice_requests_total{class="2xx",method="GET"}`); v != 2 {
		t.Errorf("metrics saw %v records, want 2", v)
	}
	if n := testing.AllocsPerRun(100, func() { o.Observe(&r) }); n != 0 {
		t.Errorf("Multi.Observe: %v allocations", n)
	}
	nilMetrics.Observe(&r) // a nil *Metrics is a no-op
}
