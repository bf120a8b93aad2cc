package balance

import (
	"fmt"
	"net/http"
	"testing"
)

func hosts(n int) []*Host {
	hs := make([]*Host, n)
	for i := range hs {
		hs[i] = newHost(Upstream{Name: fmt.Sprint("h", i), Addr: fmt.Sprint("10.0.0.", i, ":80")})
	}
	return hs
}

func TestNewSelectorKnowsThePolicies(t *testing.T) {
	for _, tc := range []struct {
		policy string
		want   string
	}{
		{"", "*balance.RoundRobin"},
		{PolicyRoundRobin, "*balance.RoundRobin"},
		{PolicyLeastConn, "*balance.LeastConn"},
		{"random", ""},
	} {
		s, err := NewSelector(tc.policy)
		if tc.want == "" {
			if err == nil {
				t.Errorf("NewSelector(%q) accepted an unknown policy", tc.policy)
			}
			continue
		}
		if got := fmt.Sprintf("%T", s); err != nil || got != tc.want {
			t.Errorf("NewSelector(%q) = %s, %v; want %s", tc.policy, got, err, tc.want)
		}
	}
}

func TestSelectorsReturnNilWithoutCandidates(t *testing.T) {
	for _, s := range []Selector{&RoundRobin{}, &LeastConn{}} {
		if h := s.Select(nil); h != nil {
			t.Errorf("%T picked %s from no candidates", s, h.name)
		}
	}
}

func TestRoundRobinTakesTurns(t *testing.T) {
	hs := hosts(3)
	var rr RoundRobin
	for i := range 9 {
		if got := rr.Select(hs); got != hs[i%3] {
			t.Fatalf("pick %d = %s, want %s", i, got.name, hs[i%3].name)
		}
	}
}

func TestLeastConnPrefersFewestInFlight(t *testing.T) {
	hs := hosts(3)
	hs[0].inFlight.Store(5)
	hs[1].inFlight.Store(1)
	hs[2].inFlight.Store(3)
	var lc LeastConn
	for range 6 {
		if got := lc.Select(hs); got != hs[1] {
			t.Fatalf("picked %s with %d in flight, want h1 with 1", got.name, got.InFlight())
		}
	}
}

func TestLeastConnSharesTiesInTurn(t *testing.T) {
	hs := hosts(3)
	var lc LeastConn
	seen := map[*Host]int{}
	for range 30 {
		seen[lc.Select(hs)]++
	}
	for _, h := range hs {
		if seen[h] != 10 {
			t.Fatalf("idle hosts got %v picks, want 10 each", seen)
		}
	}
}

func TestRoundRobinPoolSpreadsEvenly(t *testing.T) {
	ups := []*upstream{newUpstream(t, "a", nil), newUpstream(t, "b", nil), newUpstream(t, "c", nil)}
	p := newPool(t, Config{}, ups[0].addr(), ups[1].addr(), ups[2].addr())
	srv, client := front(t, p)
	for range 300 {
		if code, _ := get(t, client, srv.URL); code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
	}
	for _, u := range ups {
		if n := u.hits.Load(); n != 100 {
			t.Errorf("upstream %s got %d of 300 requests, want 100", u.name, n)
		}
	}
}

func TestLeastConnPoolAvoidsBusyUpstream(t *testing.T) {
	release := make(chan struct{})
	slowOrFast := func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
	}
	a, b := newUpstream(t, "a", slowOrFast), newUpstream(t, "b", slowOrFast)
	p := newPool(t, Config{Policy: PolicyLeastConn}, a.addr(), b.addr())
	srv, client := front(t, p)

	done := make(chan int)
	go func() {
		resp, err := client.Get(srv.URL + "/slow")
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	eventually(t, "the slow request is in flight", func() bool { return a.hits.Load()+b.hits.Load() == 1 })
	busy, idle := a, b
	if b.hits.Load() == 1 {
		busy, idle = b, a
	}
	for range 10 {
		get(t, client, srv.URL+"/fast")
	}
	if busy.hits.Load() != 1 || idle.hits.Load() != 10 {
		t.Errorf("busy upstream got %d requests and idle one %d; want all 10 fast ones on the idle one",
			busy.hits.Load()-1, idle.hits.Load())
	}
	close(release)
	if code := <-done; code != http.StatusOK {
		t.Fatalf("slow request: status %d", code)
	}
}
