package firewall

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/topology"
)

// dialFrom connects to addr from the source address src.
func dialFrom(src, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	return d.Dial("tcp", addr)
}

func TestGuardRefusesSourcesTheFlowsDoNotAllow(t *testing.T) {
	rs := Ruleset{Server: "web-1", Rules: []Rule{{Service: topology.ServiceWeb, Port: 8081,
		Sources: []netip.Prefix{netip.MustParsePrefix("127.0.36.1/32")}, From: []string{"lb-1"}}}}
	g := NewGuard(rs, nil, nil)
	raw, err := net.Listen("tcp", "127.0.36.2:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := g.Listener(raw, 8081)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "hello")
			c.Close()
		}
	}()
	read := func(src string) string {
		c, err := dialFrom(src, raw.Addr().String())
		if err != nil {
			return "dial: " + err.Error()
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		b, _ := io.ReadAll(c)
		return string(b)
	}
	if got := read("127.0.36.1"); got != "hello" {
		t.Errorf("the lb got %q", got)
	}
	if got := read("127.0.36.9"); got == "hello" {
		t.Error("a server without a flow was served")
	}
	if n := g.Refused()[8081]; n != 1 {
		t.Errorf("refused count = %d, want 1", n)
	}
}

func TestLimiterBansAClientOverTheRateAndLiftsTheBan(t *testing.T) {
	bans := NewBans(nil)
	lim := NewLimiter(Limits{RequestsPerSecond: 5, Burst: 5, BanFor: 700 * time.Millisecond}, bans, nil)
	rs := Ruleset{Server: "lb-1", Bans: true, Rules: []Rule{{Service: topology.ServiceHTTPS, Any: true}}}
	srv := httptest.NewUnstartedServer(lim.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	srv.Listener.Close()
	raw, err := net.Listen("tcp", "127.0.36.5:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(raw.Addr().String())
	var p int
	for _, ch := range port {
		p = p*10 + int(ch-'0')
	}
	rs.Rules[0].Port = p
	srv.Listener = NewGuard(rs, bans, nil).Listener(raw, p)
	srv.Start()
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go bans.Run(ctx)

	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	codes := map[int]int{}
	for i := 0; i < 20; i++ {
		resp, err := client.Get(srv.URL)
		if err != nil {
			codes[0]++
			continue
		}
		resp.Body.Close()
		codes[resp.StatusCode]++
	}
	if codes[200] < 5 || codes[200] > 7 || codes[429] < 1 || codes[0] < 1 {
		t.Fatalf("responses by status (0 = refused): %v; want ~5 served, a 429, then refusals", codes)
	}
	if !bans.Banned(netip.MustParseAddr("127.0.0.1")) || bans.Total() != 1 {
		t.Fatal("the client is not banned")
	}
	time.Sleep(1500 * time.Millisecond)
	if bans.Active() != 0 || bans.Expired() != 1 {
		t.Fatalf("ban did not expire: active %d, expired %d", bans.Active(), bans.Expired())
	}
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatalf("after the ban: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("after the ban: %s", resp.Status)
	}
}
