package monitor

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/pki"
	"github.com/rampart-dev/rampart/internal/topology"
)

// dashboard serves a collector's dashboard of the ha preset over TLS from
// the site CA, as the monitor role does, and returns its URL and CA.
func dashboard(t *testing.T) (string, *pki.CA, *Auth) {
	t.Helper()
	topo, err := topology.Preset("ha")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.OpenCA(t.TempDir(), topo.Site.Domain)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Topology: topo, Self: "monitor-1", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	id, err := ca.ServerIdentity("monitor-1", []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	auth := NewAuth(ca)
	srv := httptest.NewUnstartedServer(c.Handler(auth))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{id.Server}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL, ca, auth
}

func client(t *testing.T, ca *pki.CA, cert *tls.Certificate) *http.Client {
	jar, _ := cookiejar.New(nil)
	cfg := &tls.Config{RootCAs: ca.Pool}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Jar: jar, Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

func status(t *testing.T, c *http.Client, method, url, body string) (int, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

func TestTheDashboardNeedsTheTokenOrTheAdminCertificate(t *testing.T) {
	url, ca, auth := dashboard(t)
	c := client(t, ca, nil)

	if code, h := status(t, c, "GET", url+"/", ""); code != 200 || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Errorf("the page: %d, CSP %q", code, h.Get("Content-Security-Policy"))
	}
	for _, api := range []string{"/api/state", "/api/diagram", "/api/charts?range=1h"} {
		if code, _ := status(t, c, "GET", url+api, ""); code != http.StatusUnauthorized {
			t.Errorf("%s without logging in: %d, want 401", api, code)
		}
	}
	if code, _ := status(t, c, "POST", url+"/api/login", `{"token":"guess"}`); code != http.StatusUnauthorized {
		t.Errorf("a wrong token: %d, want 401", code)
	}
	code, h := status(t, c, "POST", url+"/api/login", `{"token":"`+LoginToken(ca)+`"}`)
	cookie := h.Get("Set-Cookie")
	if code != http.StatusNoContent || !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "Secure") || !strings.Contains(cookie, "SameSite=Strict") {
		t.Fatalf("the right token: %d, cookie %q", code, cookie)
	}
	resp, err := c.Get(url + "/api/state")
	if err != nil {
		t.Fatal(err)
	}
	var st State
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(st.Servers) != 8 || st.Domain != "www.foobar.com" {
		t.Fatalf("state after logging in: %d, %d servers", resp.StatusCode, len(st.Servers))
	}
	for _, s := range st.Servers {
		if s.Health != Unknown || s.QPS.Known() {
			t.Errorf("%s before any scrape: health %s, qps %v; want unknown and no figure", s.Name, s.Health, float64(s.QPS))
		}
	}

	// A forged or expired session is refused.
	for name, value := range map[string]string{
		"forged":  auth.session(time.Now().Add(time.Hour))[:20] + "AAAA",
		"expired": auth.session(time.Now().Add(-time.Minute)),
		"garbage": "x",
	} {
		fresh := client(t, ca, nil)
		req, _ := http.NewRequest("GET", url+"/api/state", nil)
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: value})
		resp, err := fresh.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s session: %d, want 401", name, resp.StatusCode)
		}
	}

	// The admin certificate needs no login; a server's certificate is not
	// an admin's.
	admin, err := ca.Admin()
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := status(t, client(t, ca, &admin), "GET", url+"/api/state", ""); code != 200 {
		t.Errorf("with the admin certificate: %d, want 200", code)
	}
	lb, _ := ca.ServerIdentity("lb-1", nil)
	if code, _ := status(t, client(t, ca, &lb.Client), "GET", url+"/api/state", ""); code != http.StatusUnauthorized {
		t.Errorf("with a server's certificate: %d, want 401", code)
	}
}

func TestTheTokenIsTheSameForEveryoneWithTheCA(t *testing.T) {
	dir := t.TempDir()
	a, _ := pki.OpenCA(dir, "www.foobar.com")
	b, _ := pki.OpenCA(dir, "www.foobar.com")
	other, _ := pki.OpenCA(t.TempDir(), "www.foobar.com")
	if LoginToken(a) != LoginToken(b) {
		t.Error("two processes reading one CA compute different tokens")
	}
	if LoginToken(a) == LoginToken(other) {
		t.Error("two CAs give the same token")
	}
	if len(LoginToken(a)) != 24 {
		t.Errorf("token %q: want 144 bits in 24 characters", LoginToken(a))
	}
}
