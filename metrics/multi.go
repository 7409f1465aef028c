package metrics

import (
	"reflect"

	"github.com/sluiceproxy/sluice/proxy"
)

// Multi is a proxy.Observer that hands each Record to every observer in it,
// in order. Observers must not keep the Record (proxy.Record's rules).
type Multi []proxy.Observer

// Observe passes r to each observer.
func (m Multi) Observe(r *proxy.Record) {
	for _, o := range m {
		o.Observe(r)
	}
}

// NewMulti returns one proxy.Observer for the given ones, for
// engine.Config.Observer. It leaves out nil observers, nil interfaces and
// typed nil pointers alike (a disabled *accesslog.Logger, a nil *Metrics),
// and returns nil when none is left, so that the engine builds no records,
// or the observer itself when only one is left.
func NewMulti(obs ...proxy.Observer) proxy.Observer {
	var m Multi
	for _, o := range obs {
		if o == nil {
			continue
		}
		if v := reflect.ValueOf(o); v.Kind() == reflect.Pointer && v.IsNil() {
			continue
		}
		m = append(m, o)
	}
	switch len(m) {
	case 0:
		return nil
	case 1:
		return m[0]
	}
	return m
}
