package harness

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// Check is what the preflight learnt about one peer.
type Check struct {
	Peer    string
	TLS     string // version and cipher negotiated with an HTTP/1.1 client
	Resumes bool   // a second connection resumed the TLS session
	Proto   string // what the backends saw: http or https (mTLS)
}

// client returns an HTTP/1.1 client that trusts the benchmark's CA. With
// keepAlive false every request opens a connection; cache, when set,
// lets those connections resume TLS sessions.
func client(caFile string, keepAlive bool, cache tls.ClientSessionCache) (*http.Client, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate", caFile)
	}
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: roots, ClientSessionCache: cache},
			DisableKeepAlives: !keepAlive,
			ForceAttemptHTTP2: false, // wrk speaks HTTP/1.1
		},
	}, nil
}

// waitReady polls url until it answers 200 or ctx ends; alive reports early
// whether the process behind it died.
func waitReady(ctx context.Context, c *http.Client, url string, alive func() error) error {
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := c.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		if err := alive(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w", last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// preflight proves a peer is configured like the others before it is
// measured: requests on one keep-alive connection reach both backends in
// turn, the 100 KiB body arrives whole, the edge headers are set, an
// HTTP/1.0 request without Host (what s_time sends) is answered 200, and a
// second connection resumes the TLS session. wantProto is what the backends
// must have seen.
func preflight(ctx context.Context, peer, addr, caFile, wantProto string) (Check, error) {
	c := Check{Peer: peer}
	base := "https://" + addr
	keep, err := client(caFile, true, nil)
	if err != nil {
		return c, err
	}
	defer keep.CloseIdleConnections()
	seen := map[string]int{}
	for range 8 {
		resp, body, err := get(ctx, keep, base+PathSmall)
		if err != nil {
			return c, err
		}
		if len(body) != SmallBodySize {
			return c, fmt.Errorf("GET %s: %d bytes, want %d", PathSmall, len(body), SmallBodySize)
		}
		seen[resp.Header.Get(HeaderBackend)]++
		c.Proto = resp.Header.Get(HeaderBackendProto)
		if c.TLS == "" {
			c.TLS = tls.VersionName(resp.TLS.Version) + " " + tls.CipherSuiteName(resp.TLS.CipherSuite)
		}
		for _, h := range []string{"Strict-Transport-Security", "X-Request-Id"} {
			if resp.Header.Get(h) == "" {
				return c, fmt.Errorf("response lacks %s", h)
			}
		}
	}
	for _, n := range BackendNames {
		if seen[n] < 2 {
			return c, fmt.Errorf("8 requests on one connection reached the backends %v, want both in turn (round robin)", seen)
		}
	}
	if c.Proto != wantProto {
		return c, fmt.Errorf("backends saw %s, want %s", c.Proto, wantProto)
	}
	if _, body, err := get(ctx, keep, base+PathLarge); err != nil {
		return c, err
	} else if len(body) != LargeBodySize {
		return c, fmt.Errorf("GET %s: %d bytes, want %d", PathLarge, len(body), LargeBodySize)
	}
	if err := http10(ctx, addr, caFile); err != nil {
		return c, err
	}

	fresh, err := client(caFile, false, tls.NewLRUClientSessionCache(4))
	if err != nil {
		return c, err
	}
	for range 2 {
		resp, _, err := get(ctx, fresh, base+PathSmall)
		if err != nil {
			return c, err
		}
		c.Resumes = resp.TLS.DidResume
	}
	return c, nil
}

func get(ctx context.Context, c *http.Client, url string) (*http.Response, []byte, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return resp, body, nil
}

// http10 sends what openssl s_time sends and wants a 200 back: s_time
// itself never looks at the status.
func http10(ctx context.Context, addr, caFile string) error {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	d := tls.Dialer{Config: &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("HTTP/1.0 check: %w", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "GET "+PathSmall+" HTTP/1.0\r\n\r\n"); err != nil {
		return fmt.Errorf("HTTP/1.0 check: %w", err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("HTTP/1.0 check: %w", err)
	}
	if f := strings.Fields(line); len(f) < 2 || f[1] != "200" {
		return fmt.Errorf("HTTP/1.0 request without Host got %q, want a 200", strings.TrimSpace(line))
	}
	return nil
}
