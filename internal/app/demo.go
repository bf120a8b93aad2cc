package app

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"

	"github.com/rampart-dev/rampart/internal/serve"
)

// maxGuestbookBody bounds a POST to the guestbook.
const maxGuestbookBody = 8 << 10

//go:embed templates/page.html
var templates embed.FS

var pageTemplate = template.Must(template.ParseFS(templates, "templates/page.html"))

// demo is the built-in application of one app server.
type demo struct {
	server string
	store  GuestbookStore
}

// NewDemo returns the demo application as the app server named server sees
// it. It serves:
//
//	GET  /                the page: which lb, web and app served the request, and the guestbook
//	GET  /api/whoami      the same as JSON (Whoami)
//	GET  /api/guestbook   {"storage": kind, "entries": [...], "db_server": name}, newest first
//	POST /api/guestbook   {"name","message"} -> 201 {"storage": kind, "entry": {...}, "db_server": name}
//	GET  /healthz         "ok"
//
// db_server, the database server that answered, is there when the store
// has several (MySQLStore). Its static files (Codebase) are served by the web role, not here.
func NewDemo(server string, store GuestbookStore) http.Handler {
	d := &demo{server: server, store: store}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", d.page)
	mux.HandleFunc("GET /api/whoami", d.whoami)
	mux.HandleFunc("GET /api/guestbook", d.listGuestbook)
	mux.HandleFunc("POST /api/guestbook", d.addGuestbook)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok")
	})
	return securityHeaders(mux)
}

// RunDemo serves the demo on addr until ctx ends, with its guestbook in
// memory.
func RunDemo(ctx context.Context, addr, server string) error {
	return RunDemoStore(ctx, addr, server, NewMemoryStore())
}

// RunDemoStore serves the demo on addr until ctx ends, keeping the
// guestbook in store. The rampart binary runs it as `rampart demo-app`,
// under a Supervisor.
func RunDemoStore(ctx context.Context, addr, server string, store GuestbookStore) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("demo app %s: %w", server, err)
	}
	slog.Info("demo app listening", "server", server, "addr", ln.Addr().String(), "storage", store.Kind())
	return serve.Run(ctx, ln, NewDemo(server, store), serve.Options{})
}

// securityHeaders keeps every answer out of caches, since each one tells
// which servers handled it, and lets the page load only its own files.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		w.Header().Set("Referrer-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}

// pageData is what templates/page.html shows.
type pageData struct {
	Whoami
	Storage string
	// DBServer is the database server that answered, when the store has
	// several.
	DBServer string
	Entries  []Entry
	Error    string
}

// answeringStore is a GuestbookStore whose calls may be answered by one of
// several database servers, and that says which one did (MySQLStore).
type answeringStore interface {
	ListFrom(ctx context.Context) ([]Entry, string, error)
	AddTo(ctx context.Context, e Entry) (Entry, string, error)
}

// list returns the entries and, when the store says, which server answered.
func (d *demo) list(ctx context.Context) ([]Entry, string, error) {
	if s, ok := d.store.(answeringStore); ok {
		return s.ListFrom(ctx)
	}
	entries, err := d.store.List(ctx)
	return entries, "", err
}

// add stores e and, when the store says, names the server that took it.
func (d *demo) add(ctx context.Context, e Entry) (Entry, string, error) {
	if s, ok := d.store.(answeringStore); ok {
		return s.AddTo(ctx, e)
	}
	e, err := d.store.Add(ctx, e)
	return e, "", err
}

func (d *demo) page(w http.ResponseWriter, r *http.Request) {
	data := pageData{Whoami: whoami(r, d.server), Storage: d.store.Kind()}
	entries, dbServer, err := d.list(r.Context())
	data.DBServer = dbServer
	if err != nil {
		slog.Error("demo app: list guestbook", "server", d.server, "err", err)
		data.Error = "The guestbook cannot be read right now."
	}
	data.Entries = entries
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pageTemplate.Execute(w, data); err != nil {
		slog.Error("demo app: render page", "server", d.server, "err", err)
	}
}

func (d *demo) whoami(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, whoami(r, d.server))
}

func (d *demo) listGuestbook(w http.ResponseWriter, r *http.Request) {
	entries, dbServer, err := d.list(r.Context())
	if err != nil {
		slog.Error("demo app: list guestbook", "server", d.server, "err", err)
		writeError(w, http.StatusInternalServerError, "the guestbook cannot be read right now")
		return
	}
	if entries == nil {
		entries = []Entry{}
	}
	writeJSON(w, http.StatusOK, withDBServer(map[string]any{"storage": d.store.Kind(), "entries": entries}, dbServer))
}

func (d *demo) addGuestbook(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name    string `json:"name"`
		Message string `json:"message"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxGuestbookBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(&in)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", maxGuestbookBody))
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, `body must be one JSON object {"name": "...", "message": "..."}`)
		return
	}
	e, err := newEntry(in.Name, in.Message)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	e, dbServer, err := d.add(r.Context(), e)
	if err != nil {
		slog.Error("demo app: add guestbook entry", "server", d.server, "err", err)
		writeError(w, http.StatusInternalServerError, "the entry could not be saved")
		return
	}
	writeJSON(w, http.StatusCreated, withDBServer(map[string]any{"storage": d.store.Kind(), "entry": e}, dbServer))
}

// withDBServer adds "db_server" to an answer when a database server is
// known to have answered.
func withDBServer(doc map[string]any, server string) map[string]any {
	if server != "" {
		doc["db_server"] = server
	}
	return doc
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
