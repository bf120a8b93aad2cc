package web

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/rampart-dev/rampart/internal/hop"
)

// Config describes one web server.
type Config struct {
	// Name is this server's name, added to Via on requests sent to the app.
	Name string
	// Codebase holds the static files. A file is served at the URL path equal
	// to its path in Codebase ("static/style.css" at "/static/style.css").
	// Nil means every request goes to App.
	Codebase fs.FS
	// App receives every request that is not for a static file, usually the
	// pool over the app servers.
	App http.Handler
	// CacheMaxAge is the Cache-Control max-age of static files. Default 1h;
	// a negative value sends "no-cache", so browsers revalidate every time.
	CacheMaxAge time.Duration
	// Logger receives errors reading the codebase.
	Logger *slog.Logger
}

// Web is the web role's handler. It is safe for concurrent use.
type Web struct {
	name   string
	app    http.Handler
	static *staticFiles // nil when there is no codebase
}

// New checks cfg and returns the web role's handler.
func New(cfg Config) (*Web, error) {
	if cfg.Name == "" {
		return nil, errors.New("web: Name is required")
	}
	if cfg.App == nil {
		return nil, fmt.Errorf("web %s: App handler is required", cfg.Name)
	}
	if cfg.CacheMaxAge == 0 {
		cfg.CacheMaxAge = time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	w := &Web{name: cfg.Name, app: cfg.App}
	if cfg.Codebase != nil {
		w.static = newStaticFiles(cfg.Codebase, cfg.CacheMaxAge, cfg.Logger)
	}
	return w, nil
}

// ServeHTTP serves a GET or HEAD for a regular file of the codebase and
// proxies everything else to the app.
func (w *Web) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if w.static != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		if w.static.serve(rw, r) {
			return
		}
	}
	// The app trusts the client-certificate header, so it must only pass an
	// unbroken chain of verified mTLS hops.
	hop.KeepClientCert(r)
	hop.AddVia(r.Header, w.name)
	w.app.ServeHTTP(rw, r)
}
