package lb

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"

	"github.com/rampart-dev/rampart/internal/hop"
)

func TestHSTSAndRequestIDOnEveryResponse(t *testing.T) {
	s := startSite(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		// A backend's own values must not reach the client alongside the lb's.
		w.Header().Set(hstsHeader, "max-age=0")
		w.Header().Set(hop.RequestID, "backend-id")
	})
	resp, err := s.client(t, nil, false).Get(s.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Values(hstsHeader); len(got) != 1 || got[0] != "max-age=31536000; includeSubDomains" {
		t.Errorf("HSTS %q, want one max-age=31536000; includeSubDomains", got)
	}
	ids := resp.Header.Values(hop.RequestID)
	if len(ids) != 1 || len(ids[0]) != 32 {
		t.Fatalf("response X-Request-Id %q, want one fresh 32-hex ID", ids)
	}
	if got := s.lastRequest().Header.Get(hop.RequestID); got != ids[0] {
		t.Errorf("backend got request ID %q, client got %q", got, ids[0])
	}
}

func TestHSTSMaxAgeIsConfigurable(t *testing.T) {
	s := startSite(t, Config{HSTSMaxAge: 3600e9}, nil)
	resp, err := s.client(t, nil, false).Get(s.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get(hstsHeader); got != "max-age=3600; includeSubDomains" {
		t.Fatalf("HSTS %q", got)
	}
}

func TestEdgeHeadersReplaceWhatTheClientSent(t *testing.T) {
	s := startSite(t, Config{}, nil)
	req, _ := http.NewRequest("GET", s.url("/path"), nil)
	req.Host = "shop.example"
	req.Header.Set("X-Forwarded-For", "6.6.6.6")
	req.Header.Set("X-Forwarded-Proto", "http")
	req.Header.Set("X-Forwarded-Host", "evil.example")
	req.Header.Set(hop.RequestID, "client-chosen")
	req.Header.Set("Via", "1.1 forged-hop")
	resp, err := s.client(t, nil, false).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := s.lastRequest().Header
	for _, tc := range []struct{ header, want string }{
		{"X-Forwarded-For", "127.0.0.1"},
		{"X-Forwarded-Proto", "https"},
		{"X-Forwarded-Host", "shop.example"},
		{hop.RequestID, resp.Header.Get(hop.RequestID)},
		{"Via", "1.1 lb-1"},
	} {
		if v := strings.Join(got.Values(tc.header), ","); v != tc.want {
			t.Errorf("backend got %s %q, want %q", tc.header, v, tc.want)
		}
	}
	if r := s.lastRequest(); r.Host != "shop.example" {
		t.Errorf("backend got Host %q, want the client's", r.Host)
	}
}

func TestClientCertificateHeader(t *testing.T) {
	const forged = `subject="CN=admin"; sha256=00`
	for _, tc := range []struct {
		name       string
		forward    bool
		presentKey bool
		want       string // substring expected in the header; "" means absent
	}{
		{"forwarded: verified certificate's subject reaches the backend", true, true, `subject="CN=alice,O=rampart"`},
		{"forwarded: no certificate, forged header dropped", true, false, ""},
		{"not forwarded: verified certificate is not passed on", false, true, ""},
		{"not forwarded: forged header dropped", false, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca := newTestCA(t)
			s := startSite(t, Config{
				ForwardClientCert: tc.forward,
				TLS: &tls.Config{
					Certificates: []tls.Certificate{ca.issue(t, "site.test", true)},
					ClientAuth:   tls.VerifyClientCertIfGiven,
					ClientCAs:    ca.pool,
				},
			}, nil)
			cfg := &tls.Config{RootCAs: ca.pool, ServerName: "site.test"}
			if tc.presentKey {
				cfg.Certificates = []tls.Certificate{ca.issue(t, "alice", false)}
			}
			for _, h2 := range []bool{false, true} {
				req, _ := http.NewRequest("GET", s.url("/"), nil)
				req.Header.Set(hop.ClientCert, forged)
				resp, err := s.client(t, cfg.Clone(), h2).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				got := s.lastRequest().Header.Values(hop.ClientCert)
				switch {
				case tc.want == "" && len(got) != 0:
					t.Fatalf("h2=%v: backend got %s %q, want none", h2, hop.ClientCert, got)
				case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0], tc.want) || strings.Contains(got[0], "admin")):
					t.Fatalf("h2=%v: backend got %s %q, want one value with %s", h2, hop.ClientCert, got, tc.want)
				}
			}
		})
	}
}

func TestUntrustedClientCertificateIsRefused(t *testing.T) {
	ca, other := newTestCA(t), newTestCA(t)
	s := startSite(t, Config{
		ForwardClientCert: true,
		TLS: &tls.Config{
			Certificates: []tls.Certificate{ca.issue(t, "site.test", true)},
			ClientAuth:   tls.VerifyClientCertIfGiven,
			ClientCAs:    ca.pool,
		},
	}, nil)
	cfg := &tls.Config{RootCAs: ca.pool, ServerName: "site.test", Certificates: []tls.Certificate{other.issue(t, "mallory", false)}}
	if _, err := s.client(t, cfg, false).Get(s.url("/")); err == nil {
		t.Fatal("a certificate from an unknown CA was accepted")
	}
	if s.lastRequest() != nil {
		t.Fatal("the request reached the backend")
	}
}
