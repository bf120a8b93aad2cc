package balance

import (
	"fmt"
	"sync/atomic"
)

// Selector is a load-balancing policy. Select returns one of candidates, all
// of them available, or nil when there are none. It is called concurrently
// and must not block.
type Selector interface {
	Select(candidates []*Host) *Host
}

// Policy names accepted in Config.Policy.
const (
	PolicyRoundRobin = "round_robin"
	PolicyLeastConn  = "least_conn"
)

// NewSelector returns the selector for a policy name; "" means round robin.
func NewSelector(policy string) (Selector, error) {
	switch policy {
	case "", PolicyRoundRobin:
		return &RoundRobin{}, nil
	case PolicyLeastConn:
		return &LeastConn{}, nil
	}
	return nil, fmt.Errorf("balance: unknown policy %q (want %s or %s)", policy, PolicyRoundRobin, PolicyLeastConn)
}

// RoundRobin hands requests to the candidates in turn.
type RoundRobin struct {
	next atomic.Uint64
}

// Select implements Selector.
func (r *RoundRobin) Select(c []*Host) *Host {
	if len(c) == 0 {
		return nil
	}
	return c[(r.next.Add(1)-1)%uint64(len(c))]
}

// LeastConn picks the candidate with the fewest requests in flight, so a slow
// upstream receives less work. Ties are broken in turn, so idle upstreams
// share the load evenly.
type LeastConn struct {
	next atomic.Uint64
}

// Select implements Selector.
func (l *LeastConn) Select(c []*Host) *Host {
	n := uint64(len(c))
	if n == 0 {
		return nil
	}
	start := (l.next.Add(1) - 1) % n
	best := c[start]
	bestLoad := best.InFlight()
	for i := uint64(1); i < n; i++ {
		h := c[(start+i)%n]
		if load := h.InFlight(); load < bestLoad {
			best, bestLoad = h, load
		}
	}
	return best
}
