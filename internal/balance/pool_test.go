package balance

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"testing"
	"time"
)

func TestNewValidatesConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no upstreams", Config{}},
		{"address without port", Config{Upstreams: []Upstream{{Addr: "10.0.0.1"}}}},
		{"same address twice", Config{Upstreams: []Upstream{{Name: "a", Addr: "10.0.0.1:80"}, {Name: "b", Addr: "10.0.0.1:80"}}}},
		{"same name twice", Config{Upstreams: []Upstream{{Name: "a", Addr: "10.0.0.1:80"}, {Name: "a", Addr: "10.0.0.2:80"}}}},
		{"unknown policy", Config{Upstreams: []Upstream{{Addr: "10.0.0.1:80"}}, Policy: "random"}},
		{"relative health path", Config{Upstreams: []Upstream{{Addr: "10.0.0.1:80"}}, Health: HealthCheck{Path: "healthz"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

func TestNewAppliesDefaults(t *testing.T) {
	p := newPool(t, Config{}, "10.0.0.1:80")
	h := p.checks[0].cfg
	if h.Path != "/healthz" || h.Interval != 2*time.Second || h.Timeout != time.Second || h.Rise != 2 || h.Fall != 3 {
		t.Errorf("health defaults %+v", h)
	}
	if p.retries != 2 || p.ejectFor != 10*time.Second {
		t.Errorf("retries %d, eject for %v; want 2 and 10s", p.retries, p.ejectFor)
	}
	if st := p.Status()[0]; st.Name != "u0" || !st.Healthy || st.Ejected {
		t.Errorf("initial status %+v: want healthy and not ejected", st)
	}
}

func TestHooksRunAfterTargetIsSetAndKeepHost(t *testing.T) {
	var got http.Header
	var gotHost string
	u := newUpstream(t, "u", func(w http.ResponseWriter, r *http.Request) {
		got, gotHost = r.Header.Clone(), r.Host
		w.Header().Set("X-Upstream", "secret")
	})
	var target string
	p := newPool(t, Config{
		Rewrite: func(pr *httputil.ProxyRequest) {
			target = pr.Out.URL.Host
			pr.Out.Header.Set("X-Order", "config")
		},
		ModifyResponse: func(r *http.Response) error { r.Header.Del("X-Upstream"); return nil },
	}, u.addr())
	h := p.Proxy(Hooks{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.Out.Header.Add("X-Order", "extra")
		KeepForwarded(pr)
	}})
	srv, client := front(t, h)
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Host = "shop.example"
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if target != u.addr() {
		t.Errorf("Rewrite saw target %q, want %q", target, u.addr())
	}
	if gotHost != "shop.example" {
		t.Errorf("upstream saw Host %q, want the client's", gotHost)
	}
	if o := got.Values("X-Order"); len(o) != 2 || o[0] != "config" || o[1] != "extra" {
		t.Errorf("hook order %v, want config then extra", o)
	}
	if xff := got.Get("X-Forwarded-For"); xff != "203.0.113.7" {
		t.Errorf("KeepForwarded passed X-Forwarded-For %q", xff)
	}
	if resp.Header.Get("X-Upstream") != "" {
		t.Error("ModifyResponse did not run")
	}
}

func TestWithoutKeepForwardedClientHeadersAreDropped(t *testing.T) {
	var xff string
	u := newUpstream(t, "u", func(w http.ResponseWriter, r *http.Request) { xff = r.Header.Get("X-Forwarded-For") })
	srv, client := front(t, newPool(t, Config{}, u.addr()))
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("X-Forwarded-For", "6.6.6.6")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if xff != "" {
		t.Fatalf("a client-supplied X-Forwarded-For reached the upstream: %q", xff)
	}
}

func TestInFlightLastsUntilTheBodyIsDone(t *testing.T) {
	release := make(chan struct{})
	u := newUpstream(t, "u", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "head ")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "tail")
	})
	p := newPool(t, Config{}, u.addr())
	srv, client := front(t, p)
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if n := p.Status()[0].InFlight; n != 1 {
		t.Fatalf("in flight while the body streams = %d, want 1", n)
	}
	close(release)
	io.ReadAll(resp.Body)
	resp.Body.Close()
	eventually(t, "in flight returns to 0", func() bool { return p.Status()[0].InFlight == 0 })
	if st := p.Status()[0]; st.Requests != 1 || st.Failures != 0 {
		t.Fatalf("status %+v, want one request and no failure", st)
	}
}

func TestProtocolUpgradePassesThrough(t *testing.T) {
	u := newUpstream(t, "echo", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "want upgrade", http.StatusBadRequest)
			return
		}
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		line, _ := brw.ReadString('\n')
		io.WriteString(conn, line)
	})
	p := newPool(t, Config{}, u.addr())
	srv, _ := front(t, p)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	io.WriteString(conn, "ping\n")
	if line, _ := br.ReadString('\n'); strings.TrimSpace(line) != "ping" {
		t.Fatalf("echo through the upgraded connection = %q", line)
	}
	conn.Close()
	eventually(t, "the upgraded connection is released", func() bool { return p.Status()[0].InFlight == 0 })
}
