package balance

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// threshold turns a series of check results into a state that changes only
// after Rise consecutive passes or Fall consecutive failures, so one lost
// check never flaps an upstream.
type threshold struct {
	rise, fall int
	healthy    bool
	passes     int // consecutive passes, reset by a failure
	fails      int // consecutive failures, reset by a pass
}

// observe records one result and reports whether the state changed.
func (t *threshold) observe(ok bool) bool {
	if ok {
		t.passes++
		t.fails = 0
		if !t.healthy && t.passes >= t.rise {
			t.healthy = true
			return true
		}
		return false
	}
	t.fails++
	t.passes = 0
	if t.healthy && t.fails >= t.fall {
		t.healthy = false
		return true
	}
	return false
}

// healthCheck checks one upstream. Its goroutine is the only writer of the
// host's healthy flag.
type healthCheck struct {
	host      *Host
	cfg       HealthCheck
	url       string
	transport http.RoundTripper
	log       *slog.Logger

	state      threshold
	streakFrom int64 // mono time the current run of passes began
}

func newHealthCheck(h *Host, cfg HealthCheck, scheme string, rt http.RoundTripper, log *slog.Logger) *healthCheck {
	return &healthCheck{
		host:      h,
		cfg:       cfg,
		url:       scheme + "://" + h.addr + cfg.Path,
		transport: rt,
		log:       log,
		state:     threshold{rise: cfg.Rise, fall: cfg.Fall, healthy: h.healthy.Load()},
	}
}

// run checks at once, then every Interval, until ctx ends.
func (c *healthCheck) run(ctx context.Context) {
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	for {
		c.checkOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// checkOnce probes the upstream once and applies the result.
func (c *healthCheck) checkOnce(ctx context.Context) {
	start := mono()
	err := c.probe(ctx)
	if ctx.Err() != nil {
		return // shutting down: not the upstream's fault
	}
	if err == nil && c.state.passes == 0 {
		c.streakFrom = start
	}
	if c.state.observe(err == nil) {
		c.host.healthy.Store(c.state.healthy)
		if c.state.healthy {
			c.log.Info("upstream up", "upstream", c.host.name, "addr", c.host.addr, "passes", c.cfg.Rise)
		} else {
			c.log.Warn("upstream down", "upstream", c.host.name, "addr", c.host.addr, "failures", c.cfg.Fall, "err", err)
		}
	}
	// An ejection ends early once Rise checks in a row, all begun after it,
	// have passed: the active check has seen the upstream recover.
	if err == nil && c.state.passes >= c.cfg.Rise && c.host.ejected(mono()) && c.streakFrom > c.host.ejectedAt.Load() {
		c.host.readmit()
		c.log.Info("upstream readmitted", "upstream", c.host.name, "addr", c.host.addr)
	}
}

// probe sends one GET through the pool's transport, so it uses the same TLS
// client certificate and source address as real traffic.
func (c *healthCheck) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "rampart-health-check")
	resp, err := c.transport.RoundTrip(req)
	if err != nil {
		return err
	}
	// Drain a little so the connection can be reused.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("GET %s: status %d", c.cfg.Path, resp.StatusCode)
	}
	return nil
}
