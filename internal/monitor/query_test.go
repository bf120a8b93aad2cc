package monitor

import (
	"math"
	"testing"
)

func TestQuantileInterpolatesLikePrometheus(t *testing.T) {
	les := []float64{0.1, 0.5, 1, math.Inf(1)}
	cum := []float64{10, 50, 90, 100}
	for _, c := range []struct{ q, want float64 }{
		{0.05, 0.05}, // inside the first bucket, from 0
		{0.5, 0.5},
		{0.9, 1},
		{0.7, 0.75},
		{0.99, 1}, // in the +Inf bucket: the highest finite bound
	} {
		if got := quantile(c.q, les, cum); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("q%v = %v, want %v", c.q, got, c.want)
		}
	}
	if got := quantile(0.5, les, []float64{0, 0, 0, 0}); !math.IsNaN(got) {
		t.Errorf("no observations: %v, want NaN", got)
	}
	// A bucket read a little low is made monotonic, as Prometheus does.
	if got := quantile(0.5, les, []float64{10, 50, 45, 100}); math.IsNaN(got) || got > 1 {
		t.Errorf("non-monotonic buckets: %v", got)
	}
}

func TestNumIsNullWhenUnknown(t *testing.T) {
	for _, c := range []struct {
		n    Num
		want string
	}{{Num(math.NaN()), "null"}, {Num(math.Inf(1)), "null"}, {Num(1.5), "1.5"}, {Num(1234567), "1234567"}} {
		b, _ := c.n.MarshalJSON()
		if string(b) != c.want {
			t.Errorf("%v -> %s, want %s", float64(c.n), b, c.want)
		}
		var back Num
		back.UnmarshalJSON(b)
		if c.want == "null" && back.Known() {
			t.Errorf("null read back as %v", float64(back))
		}
	}
}
