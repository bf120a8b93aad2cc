package web

import (
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rampart-dev/rampart/internal/hop"
)

// bigText is a compressible file well above minGzipSize.
var bigText = strings.Repeat("body { color: #333; margin: 0 auto; }\n", 200)

func testCodebase() fstest.MapFS {
	return fstest.MapFS{
		"static/style.css": {Data: []byte(bigText)},
		"static/app.js":    {Data: []byte(strings.ReplaceAll(bigText, "body", "function"))},
		"about.html":       {Data: []byte("<html>" + bigText + "</html>")},
		"static/small.css": {Data: []byte("p{}")},
		"static/logo.png":  {Data: bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 1000)},
		"static/digits":    {Data: []byte("0123456789abcdefghij")},
		".env":             {Data: []byte("SECRET=1")},
		"static/.hidden":   {Data: []byte("hidden")},
	}
}

// appRecorder stands in for the app pool and remembers what reached it.
type appRecorder struct {
	reached *http.Request
}

func (a *appRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.reached = r
	http.Error(w, "from app", http.StatusNotFound)
}

func newTestWeb(t *testing.T) (*Web, *appRecorder) {
	t.Helper()
	app := &appRecorder{}
	w, err := New(Config{Name: "web-1", Codebase: testCodebase(), App: app})
	if err != nil {
		t.Fatal(err)
	}
	return w, app
}

func get(h http.Handler, target string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestNewRequiresNameAndApp(t *testing.T) {
	if _, err := New(Config{App: http.NotFoundHandler()}); err == nil {
		t.Error("New without Name succeeded")
	}
	if _, err := New(Config{Name: "web-1"}); err == nil {
		t.Error("New without App succeeded")
	}
}

func TestStaticFileIsServedWithTypeAndCacheHeaders(t *testing.T) {
	w, app := newTestWeb(t)
	rec := get(w, "/static/small.css")
	if rec.Code != 200 || rec.Body.String() != "p{}" {
		t.Fatalf("got %d %q, want 200 p{}", rec.Code, rec.Body)
	}
	if app.reached != nil {
		t.Fatal("a static file reached the app")
	}
	for k, want := range map[string]string{
		"Content-Type":           "text/css; charset=utf-8",
		"Cache-Control":          "public, max-age=3600",
		"X-Content-Type-Options": "nosniff",
	} {
		if got := rec.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

func TestETagIsStableAndIfNoneMatchGives304(t *testing.T) {
	w, _ := newTestWeb(t)
	for _, ae := range []string{"", "gzip"} {
		first := get(w, "/static/style.css", "Accept-Encoding", ae)
		second := get(w, "/static/style.css", "Accept-Encoding", ae)
		etag := first.Header().Get("ETag")
		if etag == "" || strings.HasPrefix(etag, "W/") {
			t.Fatalf("Accept-Encoding %q: ETag = %q, want a strong ETag", ae, etag)
		}
		if second.Header().Get("ETag") != etag {
			t.Fatalf("Accept-Encoding %q: ETag changed between requests: %q then %q", ae, etag, second.Header().Get("ETag"))
		}
		rec := get(w, "/static/style.css", "Accept-Encoding", ae, "If-None-Match", etag)
		if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
			t.Fatalf("Accept-Encoding %q: If-None-Match %s gave %d with %d bytes, want 304 and none", ae, etag, rec.Code, rec.Body.Len())
		}
	}
}

func TestETagIsTheContentHashNotTheRequest(t *testing.T) {
	a, _ := newTestWeb(t)
	b, _ := newTestWeb(t)
	if ea, eb := get(a, "/static/style.css").Header().Get("ETag"), get(b, "/static/style.css").Header().Get("ETag"); ea != eb {
		t.Fatalf("two servers with the same file gave ETags %q and %q", ea, eb)
	}
	if get(a, "/static/style.css").Header().Get("ETag") == get(a, "/static/app.js").Header().Get("ETag") {
		t.Fatal("different files share an ETag")
	}
}

func TestRangeGives206WithExactBytes(t *testing.T) {
	w, _ := newTestWeb(t)
	for _, target := range []string{"/static/digits", "/static/style.css"} {
		rec := get(w, target, "Range", "bytes=0-9", "Accept-Encoding", "gzip")
		if rec.Code != http.StatusPartialContent {
			t.Fatalf("%s: got %d, want 206", target, rec.Code)
		}
		if rec.Body.Len() != 10 {
			t.Fatalf("%s: got %d bytes, want 10", target, rec.Body.Len())
		}
		if cr := rec.Header().Get("Content-Range"); !strings.HasPrefix(cr, "bytes 0-9/") {
			t.Fatalf("%s: Content-Range = %q", target, cr)
		}
		if ce := rec.Header().Get("Content-Encoding"); ce != "" {
			t.Fatalf("%s: a Range response was compressed: Content-Encoding %q", target, ce)
		}
	}
	if got := get(w, "/static/digits", "Range", "bytes=0-9").Body.String(); got != "0123456789" {
		t.Fatalf("range body = %q", got)
	}
}

func TestGzipAppliesToLargeTextWhenAccepted(t *testing.T) {
	w, _ := newTestWeb(t)
	files := testCodebase()
	for _, name := range []string{"static/style.css", "static/app.js", "about.html"} {
		rec := get(w, "/"+name, "Accept-Encoding", "br, gzip;q=0.8")
		if ce := rec.Header().Get("Content-Encoding"); ce != "gzip" {
			t.Fatalf("%s: Content-Encoding = %q, want gzip", name, ce)
		}
		if !strings.Contains(rec.Header().Get("Vary"), "Accept-Encoding") {
			t.Fatalf("%s: Vary = %q, want Accept-Encoding", name, rec.Header().Get("Vary"))
		}
		zr, err := gzip.NewReader(rec.Body)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got, files[name].Data) {
			t.Fatalf("%s: gunzipped body differs from the file", name)
		}
	}
}

func TestGzipIsNotApplied(t *testing.T) {
	w, _ := newTestWeb(t)
	for _, tc := range []struct {
		name, target, acceptEncoding string
	}{
		{"without Accept-Encoding", "/static/style.css", ""},
		{"when gzip has q=0", "/static/style.css", "gzip;q=0, br"},
		{"to an already compressed type", "/static/logo.png", "gzip"},
		{"to a tiny file", "/static/small.css", "gzip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := get(w, tc.target, "Accept-Encoding", tc.acceptEncoding)
			if rec.Code != 200 {
				t.Fatalf("got %d", rec.Code)
			}
			if ce := rec.Header().Get("Content-Encoding"); ce != "" {
				t.Fatalf("Content-Encoding = %q, want none", ce)
			}
			if want := testCodebase()[strings.TrimPrefix(tc.target, "/")].Data; !bytes.Equal(rec.Body.Bytes(), want) {
				t.Fatal("body differs from the file")
			}
		})
	}
}

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"":                   false,
		"gzip":               true,
		"GZIP":               true,
		"deflate, gzip":      true,
		"x-gzip":             true,
		"gzip;q=0":           false,
		"gzip; q=0.000":      false,
		"gzip;q=0.5":         true,
		"*":                  false,
		"br":                 false,
		"gzipper":            false,
		"gzip;q=nonsense":    false,
		"identity, gzip;q=1": true,
	} {
		if got := acceptsGzip([]string{header}); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", header, got, want)
		}
	}
}

func TestNonFilePathsGoToAppWithVia(t *testing.T) {
	for _, target := range []string{"/", "/api/guestbook", "/static/", "/static", "/missing.css"} {
		w, app := newTestWeb(t)
		r := httptest.NewRequest("GET", target, nil)
		r.Header.Set(hop.Via, "1.1 lb-1")
		w.ServeHTTP(httptest.NewRecorder(), r)
		if app.reached == nil {
			t.Fatalf("%s did not reach the app", target)
		}
		if got := hop.ViaServers(app.reached.Header.Get(hop.Via)); strings.Join(got, ",") != "lb-1,web-1" {
			t.Fatalf("%s: Via servers = %v, want [lb-1 web-1]", target, got)
		}
	}
}

func TestWritesToAStaticPathGoToApp(t *testing.T) {
	w, app := newTestWeb(t)
	w.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/static/style.css", nil))
	if app.reached == nil {
		t.Fatal("POST to a static path did not reach the app")
	}
}

func TestForgedClientCertOnPlaintextNeverReachesApp(t *testing.T) {
	w, app := newTestWeb(t)
	r := httptest.NewRequest("GET", "/api/whoami", nil)
	r.Header.Set(hop.ClientCert, `subject="CN=admin"; sha256=00`)
	w.ServeHTTP(httptest.NewRecorder(), r)
	if v := app.reached.Header.Get(hop.ClientCert); v != "" {
		t.Fatalf("app received a forged client cert header: %q", v)
	}
}

func TestClientCertFromVerifiedMTLSHopReachesApp(t *testing.T) {
	w, app := newTestWeb(t)
	r := httptest.NewRequest("GET", "/api/whoami", nil)
	r.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{{}}}}
	r.Header.Set(hop.ClientCert, `subject="CN=alice"; sha256=ab`)
	w.ServeHTTP(httptest.NewRecorder(), r)
	if v := app.reached.Header.Get(hop.ClientCert); v != `subject="CN=alice"; sha256=ab` {
		t.Fatalf("app received client cert %q, want the lb's header", v)
	}
}

func TestDotfilesAreNeverServed(t *testing.T) {
	w, app := newTestWeb(t)
	for _, target := range []string{"/.env", "/static/.hidden", "/static/%2ehidden"} {
		app.reached = nil
		rec := get(w, target)
		if strings.Contains(rec.Body.String(), "SECRET") || strings.Contains(rec.Body.String(), "hidden") {
			t.Fatalf("%s served a dotfile: %q", target, rec.Body)
		}
		if app.reached == nil {
			t.Fatalf("%s neither served nor passed to the app", target)
		}
	}
}

func TestPathTraversalNeverServesAFileOutsideTheCodebase(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "codebase")
	if err := os.MkdirAll(filepath.Join(root, "static"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("TOP SECRET"), 0o644)
	os.WriteFile(filepath.Join(root, "static", "ok.txt"), []byte("fine"), 0o644)
	app := &appRecorder{}
	w, err := New(Config{Name: "web-1", Codebase: os.DirFS(root), App: app})
	if err != nil {
		t.Fatal(err)
	}
	if got := get(w, "/static/ok.txt").Body.String(); got != "fine" {
		t.Fatalf("control file: got %q", got)
	}
	for _, target := range []string{
		"/../secret.txt",
		"/static/../../secret.txt",
		"/%2e%2e/secret.txt",
		"/static/%2e%2e/%2e%2e/secret.txt",
		"/..%2fsecret.txt",
		"/static/..%2f..%2fsecret.txt",
		"/..%5csecret.txt",
		"/static/..\\..\\secret.txt",
		"//secret.txt",
		"/./secret.txt",
		"/static/./../../secret.txt",
		"/%2E%2E%2Fsecret.txt",
	} {
		rec := get(w, target)
		if strings.Contains(rec.Body.String(), "TOP SECRET") {
			t.Fatalf("%s served a file outside the codebase", target)
		}
	}
}

func TestChangedFileGetsANewETag(t *testing.T) {
	fsys := fstest.MapFS{"a.txt": {Data: []byte("one")}}
	w, err := New(Config{Name: "web-1", Codebase: fsys, App: http.NotFoundHandler()})
	if err != nil {
		t.Fatal(err)
	}
	before := get(w, "/a.txt").Header().Get("ETag")
	fsys["a.txt"] = &fstest.MapFile{Data: []byte("two!")}
	rec := get(w, "/a.txt")
	if rec.Body.String() != "two!" || rec.Header().Get("ETag") == before {
		t.Fatalf("after a change: body %q, ETag %q (was %q)", rec.Body, rec.Header().Get("ETag"), before)
	}
}

func TestCacheMaxAge(t *testing.T) {
	for _, tc := range []struct {
		maxAge string
		want   string
	}{
		{"10m", "public, max-age=600"},
		{"-1s", "no-cache"},
	} {
		d, _ := time.ParseDuration(tc.maxAge)
		w, err := New(Config{Name: "web-1", Codebase: testCodebase(), App: http.NotFoundHandler(), CacheMaxAge: d})
		if err != nil {
			t.Fatal(err)
		}
		if got := get(w, "/static/small.css").Header().Get("Cache-Control"); got != tc.want {
			t.Errorf("CacheMaxAge %s: Cache-Control = %q, want %q", tc.maxAge, got, tc.want)
		}
	}
}
