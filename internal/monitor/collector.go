package monitor

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rampart-dev/rampart/internal/metrics"
	"github.com/rampart-dev/rampart/internal/topology"
)

// Config describes the collector.
type Config struct {
	Topology *topology.Topology
	// Self is the monitor's own server. Its metrics come from Local, in
	// this process, since its admin endpoint accepts only other servers'
	// monitors and the admin.
	Self  string
	Local prometheus.Gatherer
	// TLS is the client config that scrapes the admin endpoints: the
	// monitor's client certificate and the site CA.
	TLS *tls.Config
	// LocalAddr, when set, is the source address of every scrape, so the
	// servers' firewalls see the monitor.
	LocalAddr *net.TCPAddr
	// Interval and Retention default to monitoring.scrape_interval and
	// monitoring.retention.
	Interval  time.Duration
	Retention time.Duration
	// MaxSeries bounds the series kept per server. Default DefaultMaxSeries.
	MaxSeries int
	// Registerer receives the collector's own metrics. Optional.
	Registerer prometheus.Registerer
	// Findings, when set, returns the design review's findings of the
	// site, which the dashboard lists.
	Findings func() []Finding
	Logger   *slog.Logger
}

// Finding is one result of the design review, as the dashboard shows it.
type Finding struct {
	ID       string   `json:"id"`
	Severity string   `json:"severity"`
	Title    string   `json:"title"`
	Servers  []string `json:"servers"`
	Why      string   `json:"why"`
	Fix      string   `json:"fix"`
}

// Collector scrapes the site, keeps its history and evaluates its alerts.
type Collector struct {
	cfg     Config
	topo    *topology.Topology
	targets []*target
	store   *Store
	rules   []Rule
	alerts  *Alerts
	diagram Diagram
	log     *slog.Logger
	started time.Time

	scrapes  *prometheus.CounterVec
	duration prometheus.Histogram

	mu        sync.Mutex
	lastRound time.Time
}

// New checks cfg and returns a collector that has not scraped yet.
func New(cfg Config) (*Collector, error) {
	t := cfg.Topology
	if t == nil {
		return nil, errors.New("monitor: Topology is required")
	}
	if _, ok := t.Server(cfg.Self); !ok {
		return nil, fmt.Errorf("monitor: no server %q in %s", cfg.Self, t.Source)
	}
	if cfg.Interval == 0 {
		cfg.Interval = t.Monitoring.ScrapeInterval
	}
	if cfg.Retention == 0 {
		cfg.Retention = t.Monitoring.Retention
	}
	if cfg.Interval < 100*time.Millisecond || cfg.Retention < cfg.Interval {
		return nil, fmt.Errorf("monitor: interval %s and retention %s: want an interval of at least 100ms and a longer retention", cfg.Interval, cfg.Retention)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Collector{
		cfg: cfg, topo: t, rules: Rules(t, cfg.Interval), diagram: Layout(t),
		log: cfg.Logger.With("role", "monitor"), started: time.Now(),
		scrapes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: metrics.MonitorScrapes,
			Help: "Scrapes of the site's servers, by result (ok or failed)."}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: metrics.MonitorScrapeDuration,
			Help: "How long a round of scrapes took.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 8)}),
	}
	c.alerts = NewAlerts(c.log)
	dialer := &net.Dialer{Timeout: ScrapeTimeout(cfg.Interval), KeepAlive: 30 * time.Second}
	if cfg.LocalAddr != nil {
		dialer.LocalAddr = cfg.LocalAddr
	}
	var tlsCfg *tls.Config
	if cfg.TLS != nil {
		tlsCfg = cfg.TLS.Clone()
	}
	client := &http.Client{
		Timeout: ScrapeTimeout(cfg.Interval),
		Transport: &http.Transport{
			DialContext:         dialer.DialContext,
			TLSClientConfig:     tlsCfg,
			TLSHandshakeTimeout: ScrapeTimeout(cfg.Interval),
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     3 * cfg.Interval,
		},
	}
	var names []string
	for _, s := range t.Servers {
		tg := &target{server: s.Name}
		switch {
		case s.Name == cfg.Self && cfg.Local != nil:
			tg.local = cfg.Local
		case !t.Monitored(s):
			continue // its monitoring client is off: nothing to scrape
		default:
			tg.url = "https://" + s.HostPort(t.Ports.Admin) + "/metrics"
			tg.client = client
		}
		c.targets = append(c.targets, tg)
		names = append(names, s.Name)
	}
	c.store = NewStore(names, SlotsFor(cfg.Retention, cfg.Interval), cfg.MaxSeries)
	if r := cfg.Registerer; r != nil {
		st := c.store
		for _, m := range []prometheus.Collector{c.scrapes, c.duration,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: metrics.MonitorSeries, Help: "Series the collector holds in memory."},
				func() float64 { return float64(st.Stats().Series) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: metrics.MonitorSeriesDropped, Help: "Series dropped for passing the per-server limit."},
				func() float64 { return float64(st.Stats().Dropped) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: metrics.MonitorMemoryBound, Help: "The most memory the collector's history may use."},
				func() float64 { return float64(st.MemoryBound()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: metrics.MonitorAlertsFiring, Help: "Alerts firing now."},
				func() float64 { return float64(c.alerts.Firing()) }),
		} {
			if err := r.Register(m); err != nil {
				return nil, fmt.Errorf("monitor: %w", err)
			}
		}
	}
	return c, nil
}

// Store returns the collector's history.
func (c *Collector) Store() *Store { return c.store }

// Alerts returns the collector's alert state.
func (c *Collector) Alerts() *Alerts { return c.alerts }

// Interval is how often the collector scrapes.
func (c *Collector) Interval() time.Duration { return c.cfg.Interval }

// Run scrapes every server at once and then every interval, until ctx
// ends.
func (c *Collector) Run(ctx context.Context) error {
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	c.log.Info("collector started", "servers", len(c.targets), "interval", c.cfg.Interval,
		"retention", c.cfg.Retention, "memory_bound", c.store.MemoryBound())
	now := time.Now()
	for {
		c.Round(ctx, now)
		select {
		case <-ctx.Done():
			return nil
		case now = <-t.C:
		}
	}
}

// Round scrapes every server once, concurrently, records what came back
// and evaluates the alert rules.
func (c *Collector) Round(ctx context.Context, now time.Time) {
	ctx, cancel := context.WithTimeout(ctx, ScrapeTimeout(c.cfg.Interval))
	defer cancel()
	results := make([]Scrape, len(c.targets))
	var wg sync.WaitGroup
	for i, tg := range c.targets {
		wg.Go(func() { results[i] = tg.scrape(ctx) })
	}
	wg.Wait()
	if ctx.Err() != nil && errors.Is(context.Cause(ctx), context.Canceled) {
		return // stopping: a cancelled round is no gap
	}
	for _, r := range results {
		if r.Err != nil {
			c.scrapes.WithLabelValues("failed").Inc()
			c.log.Debug("scrape failed", "target", r.Server, "err", r.Err)
		} else {
			c.scrapes.WithLabelValues("ok").Inc()
		}
	}
	c.duration.Observe(time.Since(now).Seconds())
	c.store.Append(now, results)
	c.store.read(func(r reader) {
		c.alerts.evaluate(now, c.rules, &evaluation{r: r, interval: c.cfg.Interval})
	})
	c.mu.Lock()
	c.lastRound = now
	c.mu.Unlock()
}
