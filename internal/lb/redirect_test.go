package lb

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRedirectToHTTPS(t *testing.T) {
	acme := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "token-for "+r.URL.Path) })
	for _, tc := range []struct {
		name, method, target, host string
		port                       int
		want                       string
	}{
		{"path and query kept", "GET", "/a/b?x=1&y=2", "shop.example", 443, "https://shop.example/a/b?x=1&y=2"},
		{"port in Host is dropped", "GET", "/", "shop.example:80", 443, "https://shop.example/"},
		{"non-standard HTTPS port is added", "GET", "/p?q", "shop.example:8080", 8443, "https://shop.example:8443/p?q"},
		{"POST keeps its method with 308", "POST", "/form", "shop.example", 443, "https://shop.example/form"},
		{"IPv6 literal", "GET", "/", "[::1]:80", 443, "https://[::1]/"},
		{"escaped path stays escaped", "GET", "/a%2Fb/c%20d", "shop.example", 443, "https://shop.example/a%2Fb/c%20d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &LB{httpsPort: tc.port, acme: acme}
			r := httptest.NewRequest(tc.method, tc.target, nil)
			r.Host = tc.host
			w := httptest.NewRecorder()
			l.RedirectHandler().ServeHTTP(w, r)
			if w.Code != http.StatusPermanentRedirect || w.Header().Get("Location") != tc.want {
				t.Fatalf("got %d Location %q, want 308 %q", w.Code, w.Header().Get("Location"), tc.want)
			}
		})
	}
}

func TestPlainListenerRedirectsAndServesACME(t *testing.T) {
	acme := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "token") })
	s := startSite(t, Config{HTTPSPort: 8443, ACMEHTTPHandler: acme}, nil)
	client := s.client(t, nil, false)

	resp, err := client.Get("http://" + s.plainAddr + "/shop?item=3")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := "https://127.0.0.1:8443/shop?item=3"; resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
		t.Fatalf("got %d %q, want 308 to %s", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	if resp.Header.Get(hstsHeader) != "" {
		t.Error("HSTS sent over plain HTTP, where browsers must ignore it")
	}

	resp, err = client.Get("http://" + s.plainAddr + "/.well-known/acme-challenge/abc")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "token" {
		t.Fatalf("ACME challenge got %d %q, want the hook's answer", resp.StatusCode, body)
	}
	if s.lastRequest() != nil {
		t.Fatal("plain HTTP reached the backend")
	}
}
