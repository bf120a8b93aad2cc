package harness

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/rampart-dev/rampart/internal/metrics"
	"github.com/rampart-dev/rampart/internal/pki"
	"github.com/rampart-dev/rampart/internal/topology"
)

// ScrapeInterval is how often the harness scrapes the monitored lb: the
// shortest monitoring.scrape_interval a topology accepts, five times as
// often as its default (5s), so the figure errs on the pessimistic side.
const ScrapeInterval = time.Second

// Scraper reads a monitored lb's /metrics the way the collector
// (internal/monitor) does: over mutual TLS with the monitor's client
// certificate, on one kept-alive connection, asking for the text format and
// parsing all of it. It runs in the harness, so the lb pays for answering
// scrapes, as a server does, and not for the collector's work.
type Scraper struct {
	url    string
	client *http.Client

	mu    sync.Mutex
	stats ScrapeStats
	took  []time.Duration
}

// ScrapeStats counts a Scraper's scrapes.
type ScrapeStats struct {
	OK, Failed int
	Bytes      int64         // the size of the last good answer
	Median     time.Duration // the median time a good scrape took
	LastErr    error
}

// NewScraper returns a scraper of the admin endpoint at addr (host:port),
// with the certificates in the CA directory pkiDir.
func NewScraper(pkiDir, addr string) (*Scraper, error) {
	ca, err := pki.OpenCA(pkiDir, Domain)
	if err != nil {
		return nil, err
	}
	id, err := ca.ServerIdentity(MonitorName, nil)
	if err != nil {
		return nil, err
	}
	tc := id.ClientTLS()
	// The lb's server certificate names it, not an address: the benchmark
	// issues it without one.
	tc.ServerName = LBName
	return &Scraper{
		url: "https://" + addr + "/metrics",
		client: &http.Client{Transport: &http.Transport{
			TLSClientConfig: tc,
			// As the collector's transport: one idle connection per server,
			// kept over three intervals.
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     3 * ScrapeInterval,
		}},
	}, nil
}

// Run scrapes every ScrapeInterval until ctx ends, each scrape timing out
// after the interval, as the collector's do.
func (s *Scraper) Run(ctx context.Context) {
	t := time.NewTicker(ScrapeInterval)
	defer t.Stop()
	for {
		sctx, cancel := context.WithTimeout(ctx, ScrapeInterval)
		s.scrape(sctx)
		cancel()
		select {
		case <-ctx.Done():
			s.client.CloseIdleConnections()
			return
		case <-t.C:
		}
	}
}

// Requests scrapes once and returns the requests the lb has counted:
// rampart_http_requests_total of role lb, over every method and status
// class. A monitored lb that has answered nothing yet exports no such
// series, and that reads as zero.
func (s *Scraper) Requests(ctx context.Context) (float64, error) {
	fams, err := s.scrape(ctx)
	if err != nil {
		return 0, err
	}
	return lbRequests(fams), nil
}

// Stats returns the counts so far.
func (s *Scraper) Stats() ScrapeStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	if len(s.took) > 0 {
		st.Median = median(s.took)
	}
	return st
}

func (s *Scraper) scrape(ctx context.Context) (map[string]*dto.MetricFamily, error) {
	start := time.Now()
	fams, n, err := s.fetch(ctx)
	took := time.Since(start)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.stats.Failed++
		s.stats.LastErr = err
		return nil, err
	}
	s.stats.OK++
	s.stats.Bytes = n
	if len(s.took) < 100_000 {
		s.took = append(s.took, took)
	}
	return fams, nil
}

func (s *Scraper) fetch(ctx context.Context) (map[string]*dto.MetricFamily, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("scrape: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, 0, fmt.Errorf("scrape: GET %s: %s", s.url, resp.Status)
	}
	cr := &countingReader{r: resp.Body}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(cr)
	if err != nil {
		return nil, cr.n, fmt.Errorf("scrape: GET %s: %w", s.url, err)
	}
	return fams, cr.n, nil
}

// lbRequests sums the lb role's request counters.
func lbRequests(fams map[string]*dto.MetricFamily) float64 {
	f := fams[metrics.HTTPRequests]
	if f == nil {
		return 0
	}
	var sum float64
	for _, m := range f.GetMetric() {
		if slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool {
			return l.GetName() == metrics.LabelRole && l.GetValue() == string(topology.RoleLB)
		}) {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
