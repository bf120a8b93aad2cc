package app

import "time"

// backoff is the delay before restarting a program that exited: min after
// the first exit, doubling after each further one up to max.
type backoff struct {
	min, max time.Duration
	last     time.Duration
}

// next returns the delay to wait now.
func (b *backoff) next() time.Duration {
	switch {
	case b.last == 0:
		b.last = b.min
	case b.last < b.max:
		b.last = min(2*b.last, b.max)
	}
	return b.last
}

// reset makes the next delay min again, for a program that ran well.
func (b *backoff) reset() { b.last = 0 }
