package balance

import (
	"sync/atomic"
	"time"
)

// epoch anchors mono, so ejection deadlines follow the monotonic clock and
// survive wall-clock jumps.
var epoch = time.Now()

// mono returns monotonic nanoseconds since the process started.
func mono() int64 { return int64(time.Since(epoch)) }

// Host is the live state of one upstream. It is the only owner of that state:
// the health check, the retry loop and the selectors read and write it here,
// with atomics, so the request path takes no lock.
type Host struct {
	name, addr string

	healthy      atomic.Bool
	ejectedAt    atomic.Int64  // mono time of the last ejection
	ejectedUntil atomic.Int64  // mono deadline; at or before now means not ejected
	ejections    atomic.Uint64 // times taken out, counting only transitions

	inFlight atomic.Int64
	requests atomic.Uint64
	failures atomic.Uint64
	retries  atomic.Uint64
}

func newHost(u Upstream) *Host {
	h := &Host{name: u.Name, addr: u.Addr}
	// Optimistic start: the site serves as soon as it starts, and a dead
	// upstream is caught by passive ejection on the first request that
	// fails, long before Fall checks have run.
	h.healthy.Store(true)
	return h
}

// Name returns the upstream's name.
func (h *Host) Name() string { return h.name }

// Addr returns the upstream's host:port.
func (h *Host) Addr() string { return h.addr }

// InFlight returns how many requests the upstream is serving now, counting a
// response until its body is closed.
func (h *Host) InFlight() int64 { return h.inFlight.Load() }

// available reports whether the upstream may receive requests at mono time
// now: healthy by the active check and not ejected by the passive one.
func (h *Host) available(now int64) bool {
	return h.healthy.Load() && !h.ejected(now)
}

func (h *Host) ejected(now int64) bool { return h.ejectedUntil.Load() > now }

// eject takes the host out until now+d and reports whether it was in before,
// so that only the transition is logged.
func (h *Host) eject(now int64, d time.Duration) bool {
	h.ejectedAt.Store(now)
	if h.ejectedUntil.Swap(now+int64(d)) <= now {
		h.ejections.Add(1)
		return true
	}
	return false
}

// readmit ends an ejection early.
func (h *Host) readmit() { h.ejectedUntil.Store(0) }

// UpstreamStatus is a snapshot of one upstream, for dashboards and tests.
type UpstreamStatus struct {
	Name     string
	Addr     string
	Healthy  bool  // by the active health check
	Ejected  bool  // by the passive check, after a connection error
	InFlight int64 // requests being served now
	// Requests counts attempts sent, retries included; Failures counts
	// attempts that got no response; Retries counts attempts that were a
	// retry of a request another upstream failed.
	Requests, Failures, Retries uint64
	// Ejections counts the times the passive check took the upstream out.
	Ejections uint64
}

func (h *Host) status(now int64) UpstreamStatus {
	return UpstreamStatus{
		Name:     h.name,
		Addr:     h.addr,
		Healthy:  h.healthy.Load(),
		Ejected:  h.ejected(now),
		InFlight: h.inFlight.Load(),
		Requests: h.requests.Load(),
		Failures: h.failures.Load(),
		Retries:  h.retries.Load(),

		Ejections: h.ejections.Load(),
	}
}
