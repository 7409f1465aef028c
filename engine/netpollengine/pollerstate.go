package netpollengine

import (
	"reflect"
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/cloudwego/netpoll"
)

// netpoll v0.7.2 gives its users no way to wait until a poller has finished
// with a connection: its finaliser does that itself (FDOperator.Free waits
// while the operator's unexported state is 2, "a poller is handling an
// event", then sets it to 0, after which pollers skip the operator). A
// detached socket needs that point before it copies netpoll's input buffer
// into rest, because an event taken from epoll_wait before the fd left
// epoll may still be reading into that buffer. waitPollerDone reaches the
// state through reflection on the pinned layout (connection.operator, a
// *FDOperator, and FDOperator.state, an int32) and does what Free does
// first; Free then finds the state at 0 and goes on as usual.
//
// stateOffset is computed once; -1 means the layout is not the expected one.
var stateOffset = func() uintptr {
	f, ok := reflect.TypeFor[netpoll.FDOperator]().FieldByName("state")
	if !ok || f.Type.Kind() != reflect.Int32 {
		return ^uintptr(0)
	}
	return f.Offset
}()

// operatorState returns the address of c's FDOperator.state, or nil if the
// layout is not the one this package was written against.
func operatorState(c netpoll.Connection) *int32 {
	if stateOffset == ^uintptr(0) {
		return nil
	}
	v := reflect.ValueOf(c)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	f := v.Elem().FieldByName("operator")
	if !f.IsValid() || f.Type() != reflect.TypeFor[*netpoll.FDOperator]() {
		return nil
	}
	p := f.UnsafePointer()
	if p == nil {
		return nil
	}
	return (*int32)(unsafe.Add(p, stateOffset))
}

// waitPollerDone waits until no poller is handling an event of c and makes
// pollers skip c from then on (state 1 -> 0, as FDOperator's unused does).
// It must only be called from c's close callback: c is then out of epoll,
// and netpoll's finaliser, which also sets the state to 0, has not run.
func waitPollerDone(c netpoll.Connection) {
	st := operatorState(c)
	if st == nil {
		return
	}
	for !atomic.CompareAndSwapInt32(st, 1, 0) {
		if atomic.LoadInt32(st) == 0 {
			return
		}
		runtime.Gosched()
	}
}
