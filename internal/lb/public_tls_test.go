package lb

import (
	"crypto/tls"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestPublicTLSAppliesTheIntermediateProfile(t *testing.T) {
	base := &tls.Config{MinVersion: tls.VersionTLS10, ServerName: "keep-me", ClientAuth: tls.VerifyClientCertIfGiven}
	c := PublicTLS(base)
	if c.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %x, want TLS 1.2", c.MinVersion)
	}
	for _, id := range c.CipherSuites {
		name := tls.CipherSuiteName(id)
		if !strings.HasPrefix(name, "TLS_ECDHE_") || !(strings.Contains(name, "_GCM_") || strings.Contains(name, "CHACHA20_POLY1305")) {
			t.Errorf("suite %s is not ECDHE with AES-GCM or ChaCha20-Poly1305", name)
		}
	}
	if len(c.CipherSuites) != 6 {
		t.Errorf("%d suites, want the 6 ECDHE AEAD ones", len(c.CipherSuites))
	}
	for _, want := range []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384} {
		if !slices.Contains(c.CurvePreferences, want) {
			t.Errorf("curve %v missing from %v", want, c.CurvePreferences)
		}
	}
	for _, cur := range c.CurvePreferences {
		if cur == tls.CurveP521 {
			t.Errorf("curve P-521 is offered")
		}
	}
	if !slices.Equal(c.NextProtos, []string{"h2", "http/1.1"}) {
		t.Errorf("ALPN %v, want h2 then http/1.1", c.NextProtos)
	}
	if c.ServerName != "keep-me" || c.ClientAuth != tls.VerifyClientCertIfGiven {
		t.Error("PublicTLS lost the caller's settings")
	}
	if base.MinVersion != tls.VersionTLS10 || base.CipherSuites != nil {
		t.Error("PublicTLS changed its argument; it must return a clone")
	}
	if PublicTLS(&tls.Config{MinVersion: tls.VersionTLS13}).MinVersion != tls.VersionTLS13 {
		t.Error("a stricter TLS 1.3 minimum was lowered")
	}
	if PublicTLS(nil).MinVersion != tls.VersionTLS12 {
		t.Error("PublicTLS(nil) lacks the profile")
	}
}

func TestPublicListenerNegotiation(t *testing.T) {
	s := startSite(t, Config{}, nil)
	for _, tc := range []struct {
		name      string
		cfg       func(*tls.Config)
		wantErr   bool
		wantProto string
	}{
		{"TLS 1.1 is refused", func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 }, true, ""},
		{"TLS 1.2 with only a CBC suite is refused", func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}
		}, true, ""},
		{"TLS 1.2 with AES-GCM works", func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
		}, false, ""},
		{"TLS 1.3 works", func(c *tls.Config) { c.MinVersion = tls.VersionTLS13 }, false, ""},
		{"ALPN picks h2", func(c *tls.Config) { c.NextProtos = []string{"h2", "http/1.1"} }, false, "h2"},
		{"ALPN falls back to http/1.1", func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }, false, "http/1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := s.clientTLS()
			tc.cfg(cfg)
			conn, err := tls.Dial("tcp", s.httpsAddr, cfg)
			if tc.wantErr {
				if err == nil {
					st := conn.ConnectionState()
					conn.Close()
					t.Fatalf("handshake succeeded with %s / %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			defer conn.Close()
			if got := conn.ConnectionState().NegotiatedProtocol; tc.wantProto != "" && got != tc.wantProto {
				t.Fatalf("ALPN chose %q, want %q", got, tc.wantProto)
			}
		})
	}
}

func TestHTTP2RequestsReachTheBackend(t *testing.T) {
	s := startSite(t, Config{}, nil)
	resp, err := s.client(t, nil, true).Get(s.url("/h2"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusOK {
		t.Fatalf("got %s %d, want HTTP/2 200", resp.Proto, resp.StatusCode)
	}
	if r := s.lastRequest(); r == nil || r.URL.Path != "/h2" {
		t.Fatalf("backend saw %v", r)
	}
}
