package harness

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/rampart-dev/rampart/internal/pki"
	"github.com/rampart-dev/rampart/internal/serve"
)

// Paths the backends serve. Every peer proxies all of them the same way.
const (
	PathSmall  = "/"
	PathLarge  = "/100k"
	PathHealth = "/healthz"

	SmallBodySize = 128
	LargeBodySize = 100 << 10

	// HeaderBackend names the backend that answered, so the preflight can
	// prove round robin; HeaderBackendProto says whether the request came
	// over plain HTTP or mutual TLS.
	HeaderBackend      = "X-Bench-Backend"
	HeaderBackendProto = "X-Bench-Proto"
)

// BackendConfig describes one backend process: a plain HTTP/1.1 listener
// and, for the reencrypt scenario, a mutual-TLS listener that accepts only
// the lb's identity, as a rampart web server does.
type BackendConfig struct {
	Name   string // its identity, e.g. "web-1"
	Listen string // plain HTTP host:port
	// TLSListen, when set, also serves HTTPS with mTLS there. PKIDir and
	// Domain locate the CA; Allow lists the identities it accepts.
	TLSListen string
	PKIDir    string
	Domain    string
	Allow     []string
	Logger    *slog.Logger
}

// BackendHandler answers every request from memory: a small or a 100 KiB
// body, with fixed headers, so the backends cost the same under every peer
// and as little as Go's net/http allows.
func BackendHandler(name, proto string) http.Handler {
	small := fill(SmallBodySize)
	large := fill(LargeBodySize)
	smallLen := []string{strconv.Itoa(len(small))}
	largeLen := []string{strconv.Itoa(len(large))}
	ctype := []string{"text/plain; charset=utf-8"}
	nameV, protoV := []string{name}, []string{proto}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = ctype
		h[HeaderBackend] = nameV
		h[HeaderBackendProto] = protoV
		body, n := small, smallLen
		if r.URL.Path == PathLarge {
			body, n = large, largeLen
		}
		h["Content-Length"] = n
		if r.Method == http.MethodHead {
			return
		}
		w.Write(body)
	})
}

// fill returns n printable bytes ending in a newline.
func fill(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	b[n-1] = '\n'
	return b
}

// RunBackend serves until ctx ends.
func RunBackend(ctx context.Context, cfg BackendConfig) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	opts := serve.Options{Logger: cfg.Logger, DrainTimeout: time.Second}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("backend %s: %w", cfg.Name, err)
	}
	errc := make(chan error, 2)
	servers := 1
	go func() { errc <- serve.Run(ctx, ln, BackendHandler(cfg.Name, "http"), opts) }()
	if cfg.TLSListen != "" {
		tlsCfg, err := backendTLS(cfg)
		if err != nil {
			ln.Close()
			<-errc
			return err
		}
		tln, err := net.Listen("tcp", cfg.TLSListen)
		if err != nil {
			ln.Close()
			<-errc
			return fmt.Errorf("backend %s: %w", cfg.Name, err)
		}
		servers++
		o := opts
		o.TLS = tlsCfg
		go func() { errc <- serve.Run(ctx, tln, BackendHandler(cfg.Name, "https"), o) }()
	}
	var first error
	for range servers {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) && first == nil {
			first = fmt.Errorf("backend %s: %w", cfg.Name, err)
		}
	}
	return first
}

// backendTLS is the config of a rampart web server's internal listener:
// TLS 1.3, a client certificate from the site CA, the lb's identity only.
func backendTLS(cfg BackendConfig) (*tls.Config, error) {
	ca, err := pki.OpenCA(cfg.PKIDir, cfg.Domain)
	if err != nil {
		return nil, fmt.Errorf("backend %s: %w", cfg.Name, err)
	}
	id, err := ca.ServerIdentity(cfg.Name, []net.IP{loopbackIP})
	if err != nil {
		return nil, fmt.Errorf("backend %s: %w", cfg.Name, err)
	}
	var allowed []string
	for _, a := range cfg.Allow {
		allowed = append(allowed, pki.ServerID(a))
	}
	return id.ServerTLS(allowed), nil
}
