//go:build unix

package rawio

import "sync/atomic"

// heldWrites holds a connection's writes for its next read
// (DeferWritesToRead). Its methods run under the connection's write lock;
// armed lets a read with nothing held skip that lock.
type heldWrites struct {
	armed     atomic.Bool
	deferring bool
	pending   []byte
}

// start holds every write from now on.
func (h *heldWrites) start() {
	h.deferring = true
	h.armed.Store(true)
}

// hold keeps b if writes are being held, and reports whether it did.
func (h *heldWrites) hold(b []byte) bool {
	if h.deferring {
		h.pending = append(h.pending, b...)
	}
	return h.deferring
}

// take ends the holding and returns what was held, valid until the next
// hold.
func (h *heldWrites) take() []byte {
	pending := h.pending
	h.deferring, h.pending = false, h.pending[:0]
	h.armed.Store(false)
	return pending
}
