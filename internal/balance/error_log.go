package balance

import (
	"log/slog"
	"sync/atomic"
	"time"
)

// errorLog logs per-request errors at most once per interval, counting the
// ones it drops, so a dead upstream under load cannot flood the log.
type errorLog struct {
	log        *slog.Logger
	every      time.Duration
	last       atomic.Int64 // mono time of the last line written
	suppressed atomic.Int64
}

func (e *errorLog) Error(msg string, args ...any) {
	now, last := mono(), e.last.Load()
	if (last != 0 && now-last < int64(e.every)) || !e.last.CompareAndSwap(last, now) {
		e.suppressed.Add(1)
		return
	}
	if n := e.suppressed.Swap(0); n > 0 {
		args = append(args, "suppressed", n)
	}
	e.log.Error(msg, args...)
}
