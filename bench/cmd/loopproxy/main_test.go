package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/bench/harness"
)

// startProxy runs loopproxy over the backends, with the benchmark's own
// PKI, and returns its address, a TLS config that trusts it, and stop,
// which ends it and returns run's error (the test's cleanup calls it too).
func startProxy(t *testing.T, backends ...string) (string, *tls.Config, func() error) {
	t.Helper()
	certs, err := harness.PreparePKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(certs.CACert)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, "127.0.0.1:0", certs.SiteCert, certs.SiteKey, 2, backends, ready) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-errc:
			case <-time.After(5 * time.Second):
				runErr = errors.New("run did not return 5s after its context ended")
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	select {
	case addr := <-ready:
		return addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}, stop
	case err := <-errc:
		t.Fatal(err)
	}
	return "", nil, nil
}

// TestLoopProxyCarriesAResponseLargerThanTheSocketBuffers has the client
// stop reading until the proxy's socket to it is full, so the rest of the
// response waits for EPOLLOUT, across many TLS records.
func TestLoopProxyCarriesAResponseLargerThanTheSocketBuffers(t *testing.T) {
	body := strings.Repeat("0123456789abcdef", 1<<19) // 8 MiB
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		io.WriteString(w, body)
	}))
	defer b.Close()
	addr, cfg, _ := startProxy(t, b.Listener.Addr().String())
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := 0; i < 2; i++ { // the second request proves the connection survived
		if _, err := io.WriteString(conn, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // the proxy fills the socket and waits
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(io.LimitReader(conn, int64(len(body))+4096)), nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		got, err := io.ReadAll(resp.Body)
		if err != nil || string(got) != body {
			t.Fatalf("request %d: %d of %d bytes (%v)", i, len(got), len(body), err)
		}
	}
}

// TestLoopProxyReadsARequestThatArrivesByteByByte makes every TLS record
// reach the proxy in pieces, so each read stops mid-record: crypto/tls
// must keep the partial record across the "would block" reads.
func TestLoopProxyReadsARequestThatArrivesByteByByte(t *testing.T) {
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok "+r.URL.Path)
	}))
	defer b.Close()
	addr, cfg, _ := startProxy(t, b.Listener.Addr().String())
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn := tls.Client(&trickle{Conn: raw}, cfg)
	defer conn.Close()
	br := bufio.NewReader(conn)
	for i := 0; i < 3; i++ {
		path := fmt.Sprintf("/slow/%d", i)
		if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(got) != "ok "+path {
			t.Errorf("request %d: %q, want %q", i, got, "ok "+path)
		}
	}
}

// trickle sends every write a few bytes at a time, pausing between them.
type trickle struct{ net.Conn }

func (c *trickle) Write(b []byte) (int, error) {
	for i := 0; i < len(b); i += 7 {
		if _, err := c.Conn.Write(b[i:min(i+7, len(b))]); err != nil {
			return i, err
		}
		time.Sleep(200 * time.Microsecond)
	}
	return len(b), nil
}

func TestLoopProxyServesKeepAliveRequestsFromBothBackendsAndStops(t *testing.T) {
	var seenMu sync.Mutex
	seen := map[string]int{}
	backend := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Forwarded-Proto") != "https" || r.Header.Get("Via") != "1.1 loop" {
				http.Error(w, "edge headers missing", http.StatusBadRequest)
				return
			}
			seenMu.Lock()
			seen[name]++
			seenMu.Unlock()
			fmt.Fprintf(w, "%s %s", name, r.URL.Path)
		}))
	}
	b1, b2 := backend("web-1"), backend("web-2")
	defer b1.Close()
	defer b2.Close()
	addr, cfg, stop := startProxy(t, b1.Listener.Addr().String(), b2.Listener.Addr().String())

	tr := &http.Transport{TLSClientConfig: cfg, MaxConnsPerHost: 3}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	var wg sync.WaitGroup
	errs := make(chan error, 90)
	for g := 0; g < 3; g++ {
		wg.Go(func() {
			for i := 0; i < 30; i++ {
				path := fmt.Sprintf("/g%d/r%d", g, i)
				resp, err := c.Get("https://" + addr + path)
				if err != nil {
					errs <- err
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.HasSuffix(string(body), " "+path) ||
					resp.Header.Get("Strict-Transport-Security") == "" {
					errs <- fmt.Errorf("GET %s: %d %q, headers %v", path, resp.StatusCode, body, resp.Header)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	seenMu.Lock()
	if seen["web-1"] < 30 || seen["web-2"] < 30 {
		t.Errorf("backends served %v of 90 requests; want both about half (round robin)", seen)
	}
	seenMu.Unlock()

	if err := stop(); err != nil {
		t.Fatalf("stopping: %v", err)
	}
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Errorf("%s still accepts connections after run returned", addr)
	}
}
