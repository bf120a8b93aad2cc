package pki

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// ACMEConfig configures the ACME source of the site's certificate.
type ACMEConfig struct {
	Domain    string // the name to certify, e.g. www.foobar.com
	Directory string // ACME directory URL
	// Email is the ACME account's contact. It is required: without it
	// certmagic would prompt for one on stdin.
	Email string
	// CAFile is an optional PEM root that signs the ACME server's own HTTPS
	// certificate (Pebble, step-ca). When set, only it is trusted.
	CAFile string
	// StorageDir is where certmagic keeps the account and certificates
	// (under rampart's state directory). Keys are written with mode 0600.
	StorageDir string
	// HTTPPort and HTTPSPort are the ports the load balancer listens on,
	// serving HTTPChallengeHandler and GetCertificate (with NextProtos).
	// 0 means 80 and 443. certmagic opens its own challenge listener on a
	// port only when nothing listens there.
	HTTPPort, HTTPSPort int
	Logger              *slog.Logger

	// Tests pin one challenge type; production offers both.
	disableHTTP01, disableTLSALPN01 bool
}

// ACMECertificate is the site's certificate from an ACME CA (Let's Encrypt,
// step-ca, Pebble), obtained and renewed by certmagic. The load balancer
// answers the CA's validation itself: HTTP-01 through HTTPChallengeHandler on
// its HTTP port and TLS-ALPN-01 through GetCertificate and NextProtos on its
// HTTPS port.
type ACMECertificate struct {
	cfg   ACMEConfig
	roots *x509.CertPool

	// Set once by Run; nil before.
	magic  atomic.Pointer[certmagic.Config]
	issuer atomic.Pointer[certmagic.ACMEIssuer]

	started  atomic.Bool
	obtained atomic.Bool // an order was placed during Run's first ManageSync
	done     chan struct{}
	doneOnce sync.Once
	err      error // why no certificate came into service; read after done
}

var _ SiteCertificate = (*ACMECertificate)(nil)

// NewACME checks cfg and prepares the storage directory. It starts nothing:
// Run does the ACME work.
func NewACME(cfg ACMEConfig) (*ACMECertificate, error) {
	if cfg.Domain == "" || net.ParseIP(cfg.Domain) != nil {
		return nil, fmt.Errorf("acme: domain %q is not a DNS name", cfg.Domain)
	}
	u, err := url.Parse(cfg.Directory)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("acme %s: directory %q is not an https URL", cfg.Domain, cfg.Directory)
	}
	if cfg.Email == "" {
		return nil, fmt.Errorf("acme %s: an account email is required", cfg.Domain)
	}
	if cfg.StorageDir == "" {
		return nil, fmt.Errorf("acme %s: no storage directory", cfg.Domain)
	}
	if err := os.MkdirAll(cfg.StorageDir, 0o700); err != nil {
		return nil, fmt.Errorf("acme %s: storage: %w", cfg.Domain, err)
	}
	if cfg.HTTPPort == 0 {
		cfg.HTTPPort = certmagic.HTTPChallengePort
	}
	if cfg.HTTPSPort == 0 {
		cfg.HTTPSPort = certmagic.TLSALPNChallengePort
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	a := &ACMECertificate{cfg: cfg, done: make(chan struct{})}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("acme %s: CA file: %w", cfg.Domain, err)
		}
		a.roots = x509.NewCertPool()
		if !a.roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("acme %s: CA file %s holds no PEM certificate", cfg.Domain, cfg.CAFile)
		}
	}
	return a, nil
}

// GetCertificate serves tls.Config.GetCertificate. It also answers the CA's
// TLS-ALPN-01 validation handshakes, which is why the listener must offer
// NextProtos. Clients that send no or another server name get the site's
// certificate: the site has only one.
func (a *ACMECertificate) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	magic := a.magic.Load()
	if magic == nil {
		return nil, fmt.Errorf("acme %s: no certificate yet", a.cfg.Domain)
	}
	return magic.GetCertificate(hello)
}

// NextProtos returns the ALPN protocols to add to the HTTPS listener's
// tls.Config so the CA's TLS-ALPN-01 validation can complete a handshake.
func (a *ACMECertificate) NextProtos() []string { return []string{acmez.ACMETLS1Protocol} }

// HTTPChallengeHandler answers the CA's HTTP-01 validation requests under
// /.well-known/acme-challenge/ and passes every other request to next.
func (a *ACMECertificate) HTTPChallengeHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if iss := a.issuer.Load(); iss != nil && iss.HandleHTTPChallenge(w, r) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Ready waits until a certificate is in service. It returns Run's error
// when none could be loaded or obtained, and ctx's when ctx ends first.
func (a *ACMECertificate) Ready(ctx context.Context) error {
	select {
	case <-a.done:
		return a.err
	case <-ctx.Done():
		return fmt.Errorf("acme %s: waiting for a certificate from %s: %w", a.cfg.Domain, a.cfg.Directory, context.Cause(ctx))
	}
}

// Run loads the certificate from storage, or obtains one when storage has
// none (a single attempt, so a broken setup fails now, in one line). Then
// certmagic keeps it renewed, with retries, until ctx ends. Start the load
// balancer's listeners first: certmagic answers on a challenge port nobody
// listens on by binding it itself, which would then keep the load balancer
// off it. Run may be called once.
// ACMERetry is the first wait before a failed order is tried again; it
// doubles up to an hour.
var ACMERetry = time.Minute

func (a *ACMECertificate) Run(ctx context.Context) error {
	if !a.started.CompareAndSwap(false, true) {
		return fmt.Errorf("acme %s: Run called twice", a.cfg.Domain)
	}
	logger := zap.New(slogCore{a.cfg.Logger.Handler()}).Named("certmagic")
	var magic *certmagic.Config
	cache := certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return magic, nil },
		Logger:           logger,
	})
	defer cache.Stop() // ends renewals and releases certmagic's locks
	magic = certmagic.New(cache, certmagic.Config{
		Storage:            &certmagic.FileStorage{Path: a.cfg.StorageDir},
		DefaultServerName:  a.cfg.Domain,
		FallbackServerName: a.cfg.Domain,
		OnEvent:            a.onEvent,
		Logger:             logger,
	})
	issuer := certmagic.NewACMEIssuer(magic, certmagic.ACMEIssuer{
		CA:                      a.cfg.Directory,
		Email:                   a.cfg.Email,
		Agreed:                  true,
		TrustedRoots:            a.roots,
		AltHTTPPort:             a.cfg.HTTPPort,
		AltTLSALPNPort:          a.cfg.HTTPSPort,
		DisableHTTPChallenge:    a.cfg.disableHTTP01,
		DisableTLSALPNChallenge: a.cfg.disableTLSALPN01,
		Logger:                  logger,
	})
	magic.Issuers = []certmagic.Issuer{issuer}
	a.magic.Store(magic)
	a.issuer.Store(issuer)

	start := time.Now()
	a.cfg.Logger.Info("acme: loading or obtaining the site certificate", "domain", a.cfg.Domain, "directory", a.cfg.Directory)
	// A failed order is retried with backoff rather than ending the lb: a
	// CA that is down, or DNS not yet pointing here, should not become a
	// restart loop that runs into the CA's rate limits.
	backoff := ACMERetry
	for {
		err := magic.ManageSync(ctx, []string{a.cfg.Domain})
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			a.finish(fmt.Errorf("acme %s: stopped before a certificate was in service", a.cfg.Domain))
			return nil
		}
		err = fmt.Errorf("acme %s: certificate from %s: %w", a.cfg.Domain, a.cfg.Directory, err)
		a.finish(err) // Ready reports the first failure
		a.cfg.Logger.Error("acme: no certificate yet; will retry", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Hour)
	}
	source := "storage"
	if a.obtained.Load() {
		source = "issued"
	}
	attrs := []any{"domain", a.cfg.Domain, "source", source, "elapsed", time.Since(start).Round(time.Millisecond)}
	if certs := cache.AllMatchingCertificates(a.cfg.Domain); len(certs) > 0 && certs[0].Leaf != nil {
		attrs = append(attrs, "issuer", certs[0].Leaf.Issuer.CommonName, "not_after", certs[0].Leaf.NotAfter)
	}
	a.cfg.Logger.Info("acme: site certificate in service", attrs...)
	a.finish(nil)
	<-ctx.Done()
	return nil
}

func (a *ACMECertificate) finish(err error) {
	a.doneOnce.Do(func() {
		a.err = err
		close(a.done)
	})
}

// onEvent notes orders and reports renewals, which certmagic logs only at
// its chatty info level.
func (a *ACMECertificate) onEvent(_ context.Context, event string, data map[string]any) error {
	if event != "cert_obtained" {
		return nil
	}
	if renewal, _ := data["renewal"].(bool); renewal {
		a.cfg.Logger.Info("acme: site certificate renewed", "domain", a.cfg.Domain, "issuer", data["issuer"])
	} else {
		a.obtained.Store(true)
	}
	return nil
}

// slogCore sends certmagic's zap logs to slog. certmagic's info level
// narrates every lock and challenge, so it becomes debug; its warnings and
// errors stay what they are.
type slogCore struct{ h slog.Handler }

func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l >= zapcore.ErrorLevel:
		return slog.LevelError
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	case l == zapcore.InfoLevel:
		return slog.LevelDebug
	default:
		return slog.LevelDebug - 4
	}
}

func (c slogCore) Enabled(l zapcore.Level) bool {
	return c.h.Enabled(context.Background(), slogLevel(l))
}

func (c slogCore) With(fields []zapcore.Field) zapcore.Core {
	return slogCore{c.h.WithAttrs(slogAttrs(fields))}
}

func (c slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	r := slog.NewRecord(e.Time, slogLevel(e.Level), e.Message, 0)
	r.AddAttrs(slog.String("logger", e.LoggerName))
	r.AddAttrs(slogAttrs(fields)...)
	return c.h.Handle(context.Background(), r)
}

func (slogCore) Sync() error { return nil }

func slogAttrs(fields []zapcore.Field) []slog.Attr {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	keys := make([]string, 0, len(enc.Fields))
	for k := range enc.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	attrs := make([]slog.Attr, 0, len(keys))
	for _, k := range keys {
		attrs = append(attrs, slog.Any(k, enc.Fields[k]))
	}
	return attrs
}
