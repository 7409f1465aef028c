package pool

import "sync"

// Buffers hands out byte slices of one capacity class. It holds pointers, as
// sync.Pool should, and refuses slices that grew past the class on Put so the
// pool does not pin large buffers.
type Buffers struct {
	// Size is the capacity of new buffers. Set once before use.
	Size int

	p sync.Pool
}

// Get returns an empty buffer of at least Size capacity.
func (b *Buffers) Get() *[]byte {
	if v := b.p.Get(); v != nil {
		bp := v.(*[]byte)
		*bp = (*bp)[:0]
		return bp
	}
	s := make([]byte, 0, b.Size)
	return &s
}

// Put returns a buffer obtained from Get. Buffers whose capacity grew beyond
// twice Size are dropped.
func (b *Buffers) Put(bp *[]byte) {
	if bp == nil || cap(*bp) > 2*b.Size || cap(*bp) < b.Size {
		return
	}
	*bp = (*bp)[:0]
	b.p.Put(bp)
}
