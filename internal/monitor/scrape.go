package monitor

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/rampart-dev/rampart/internal/metrics"
)

// maxScrapeBytes bounds one server's answer, so a broken or hostile
// endpoint cannot make the collector read without end.
const maxScrapeBytes = 8 << 20

// kept are the metrics from outside rampart's namespace that the collector
// keeps; the Go runtime's own figures stay on the servers.
var kept = map[string]bool{
	metrics.ProcessCPUSeconds: true, metrics.ProcessResident: true, metrics.ProcessOpenFDs: true,
	"process_max_fds": true, "process_start_time_seconds": true,
}

func keep(name string) bool { return strings.HasPrefix(name, "rampart_") || kept[name] }

// target is one server to scrape: its admin endpoint, or, for the monitor
// itself, its registry in this process.
type target struct {
	server string
	url    string
	client *http.Client
	local  prometheus.Gatherer
}

// scrape reads the target's metrics once.
func (t *target) scrape(ctx context.Context) Scrape {
	start := time.Now()
	var fams []*dto.MetricFamily
	var err error
	if t.local != nil {
		fams, err = t.local.Gather()
	} else {
		fams, err = t.fetch(ctx)
	}
	end := time.Now()
	sc := Scrape{Server: t.server, At: start.Add(end.Sub(start) / 2)}
	if err != nil {
		sc.Err = err
		return sc
	}
	sc.Samples = samples(fams)
	// The server's own reading time, when it says, is when its counters
	// were read; the round trip's middle is only a guess.
	for i, smp := range sc.Samples {
		if smp.Name == metrics.ScrapeTime {
			sc.At = time.UnixMicro(int64(smp.Value * 1e6))
			sc.Samples = append(sc.Samples[:i], sc.Samples[i+1:]...)
			break
		}
	}
	return sc
}

func (t *target) fetch(ctx context.Context) ([]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := t.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("GET %s: %s", t.url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(io.LimitReader(resp.Body, maxScrapeBytes))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", t.url, err)
	}
	out := make([]*dto.MetricFamily, 0, len(fams))
	for _, f := range fams {
		out = append(out, f)
	}
	return out, nil
}

// samples flattens metric families into the samples the store keeps, as
// Prometheus names them: a histogram becomes its _bucket series (le label,
// +Inf included), _sum and _count.
func samples(fams []*dto.MetricFamily) []Sample {
	var out []Sample
	for _, f := range fams {
		name := f.GetName()
		if !keep(name) {
			continue
		}
		for _, m := range f.GetMetric() {
			ls := make([]Label, 0, len(m.GetLabel())+1)
			for _, lp := range m.GetLabel() {
				if lp.GetName() != metrics.LabelServer {
					ls = append(ls, Label{lp.GetName(), lp.GetValue()})
				}
			}
			sortLabels(ls)
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out = append(out, Sample{name, ls, m.GetCounter().GetValue()})
			case dto.MetricType_GAUGE:
				out = append(out, Sample{name, ls, m.GetGauge().GetValue()})
			case dto.MetricType_UNTYPED:
				out = append(out, Sample{name, ls, m.GetUntyped().GetValue()})
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				for _, b := range h.GetBucket() {
					if math.IsInf(b.GetUpperBound(), 1) {
						continue // written below from the count
					}
					out = append(out, Sample{name + "_bucket", withLE(ls, b.GetUpperBound()), float64(b.GetCumulativeCount())})
				}
				out = append(out,
					Sample{name + "_bucket", withLE(ls, math.Inf(1)), float64(h.GetSampleCount())},
					Sample{name + "_sum", ls, h.GetSampleSum()},
					Sample{name + "_count", ls, float64(h.GetSampleCount())})
			case dto.MetricType_SUMMARY:
				s := m.GetSummary()
				out = append(out,
					Sample{name + "_sum", ls, s.GetSampleSum()},
					Sample{name + "_count", ls, float64(s.GetSampleCount())})
			}
		}
	}
	return out
}

// withLE returns ls with the le label of upper bound ub, sorted.
func withLE(ls []Label, ub float64) []Label {
	out := make([]Label, len(ls), len(ls)+1)
	copy(out, ls)
	out = append(out, Label{"le", formatLE(ub)})
	sortLabels(out)
	return out
}

func formatLE(ub float64) string {
	if math.IsInf(ub, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(ub, 'g', -1, 64)
}
