package monitor

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
)

//go:embed static
var staticFiles embed.FS

// Handler serves the dashboard: the page and its assets to anyone (they
// hold no data), and the data APIs to a logged-in browser or a client with
// the admin certificate.
//
//	GET  /                 the page
//	GET  /static/...       its script, styles and icons
//	POST /api/login        {"token": "..."} -> session cookie
//	POST /api/logout
//	GET  /api/diagram      the site's diagram (Layout)
//	GET  /api/state        the figures now (State)
//	GET  /api/charts?range=15m|1h
func (c *Collector) Handler(auth *Auth) http.Handler {
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	mux := http.NewServeMux()
	files := http.FileServerFS(static)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, static, "index.html")
	})
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})))
	mux.HandleFunc("POST /api/login", auth.serveLogin)
	mux.HandleFunc("POST /api/logout", auth.serveLogout)
	api := func(fn func(r *http.Request) any) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !auth.allowed(r) {
				http.Error(w, "log in with the token that `rampart up` printed", http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			json.NewEncoder(w).Encode(fn(r))
		})
	}
	mux.Handle("GET /api/diagram", api(func(*http.Request) any { return c.diagram }))
	mux.Handle("GET /api/state", api(func(*http.Request) any { return c.State() }))
	mux.Handle("GET /api/charts", api(func(r *http.Request) any { return c.Charts(r.URL.Query().Get("range")) }))
	return securityHeaders(mux)
}

// securityHeaders keeps the page to its own origin: no inline script, no
// framing, no referrer that could carry a URL out.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}
