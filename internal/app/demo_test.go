package app

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/hop"
)

func serveDemo(h http.Handler, method, target, body string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestPageShowsWhichLBWebAndAppServedTheRequest(t *testing.T) {
	d := NewDemo("app-1", NewMemoryStore())
	rec := serveDemo(d, "GET", "/", "",
		hop.Via, "1.1 lb-1, 1.1 web-1",
		hop.RequestID, "req-42",
		"X-Forwarded-For", "203.0.113.7",
		"X-Forwarded-Proto", "https",
		"X-Forwarded-Host", "example.org")
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("got %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	page := rec.Body.String()
	for _, want := range []string{
		`<title>example.org · served by rampart</title>`,
		`id="lb">lb-1<`, `id="web">web-1<`, `id="app">app-1<`,
		"req-42", "203.0.113.7", "https",
		`href="/static/style.css"`, `src="/static/rampart.svg"`,
		"none verified",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", rec.Header().Get("Cache-Control"))
	}
}

func TestWhoamiReadsRolesFromTheEndOfVia(t *testing.T) {
	d := NewDemo("app-2", NewMemoryStore())
	for _, tc := range []struct {
		via          string
		lb, web, app string
		chain        int
	}{
		{"1.1 lb-1, 1.1 web-1", "lb-1", "web-1", "app-2", 3},
		{"1.1 cdn-edge, 1.1 lb-2, 1.1 web-3", "lb-2", "web-3", "app-2", 4},
		{"1.1 web-1", "", "web-1", "app-2", 2},
		{"", "", "", "app-2", 1},
	} {
		var got Whoami
		rec := serveDemo(d, "GET", "/api/whoami", "", hop.Via, tc.via)
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("Via %q: %v", tc.via, err)
		}
		if got.LB != tc.lb || got.Web != tc.web || got.App != tc.app || len(got.Via) != tc.chain {
			t.Errorf("Via %q: got lb=%q web=%q app=%q via=%v; want %q %q %q and %d hops",
				tc.via, got.LB, got.Web, got.App, got.Via, tc.lb, tc.web, tc.app, tc.chain)
		}
	}
}

func TestWhoamiReportsAVerifiedClientCert(t *testing.T) {
	d := NewDemo("app-1", NewMemoryStore())
	cert := `subject="CN=alice"; sha256=ab12`
	var got Whoami
	json.Unmarshal(serveDemo(d, "GET", "/api/whoami", "", hop.ClientCert, cert).Body.Bytes(), &got)
	if got.ClientCert != cert {
		t.Fatalf("client_cert = %q, want %q", got.ClientCert, cert)
	}
	page := serveDemo(d, "GET", "/", "", hop.ClientCert, cert).Body.String()
	if !strings.Contains(page, "verified</span>") || !strings.Contains(page, "CN=alice") {
		t.Fatal("page does not show the verified client certificate")
	}
}

func TestPageEscapesHostileHeaders(t *testing.T) {
	d := NewDemo("app-1", NewMemoryStore())
	rec := serveDemo(d, "GET", "/", "",
		hop.Via, "1.1 <script>alert(1)</script>, 1.1 web-1",
		hop.RequestID, `"><img src=x onerror=alert(2)>`,
		hop.ClientCert, `subject="</code><script>alert(3)</script>"`,
		"X-Forwarded-Host", "<b>evil</b>")
	page := rec.Body.String()
	for _, bad := range []string{"<script>alert", "<img src=x", "<b>evil"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains unescaped %q", bad)
		}
	}
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("page does not show the hostile Via name escaped")
	}
}

func TestHealthz(t *testing.T) {
	rec := serveDemo(NewDemo("app-1", NewMemoryStore()), "GET", "/healthz", "")
	if rec.Code != 200 || rec.Body.String() != "ok" {
		t.Fatalf("got %d %q", rec.Code, rec.Body)
	}
}

func TestUnknownPathsAre404(t *testing.T) {
	rec := serveDemo(NewDemo("app-1", NewMemoryStore()), "GET", "/static/", "")
	if rec.Code != http.StatusNotFound {
		t.Fatalf("got %d", rec.Code)
	}
}

func TestGuestbookRejectsInvalidEntries(t *testing.T) {
	d := NewDemo("app-1", NewMemoryStore())
	for _, tc := range []struct {
		name, body string
		code       int
	}{
		{"empty name", `{"name":"","message":"hi"}`, 400},
		{"blank name", `{"name":"   ","message":"hi"}`, 400},
		{"missing message", `{"name":"ann"}`, 400},
		{"name of 65 characters", `{"name":"` + strings.Repeat("n", 65) + `","message":"hi"}`, 400},
		{"message of 501 characters", `{"name":"ann","message":"` + strings.Repeat("m", 501) + `"}`, 400},
		{"not JSON", `name=ann&message=hi`, 400},
		{"unknown field", `{"name":"ann","message":"hi","admin":true}`, 400},
		{"two objects", `{"name":"ann","message":"hi"} {"name":"bob","message":"hi"}`, 400},
		{"body over 8 KiB", `{"name":"ann","message":"` + strings.Repeat("m", 9000) + `"}`, 413},
	} {
		rec := serveDemo(d, "POST", "/api/guestbook", tc.body, "Content-Type", "application/json")
		var resp struct{ Error string }
		json.Unmarshal(rec.Body.Bytes(), &resp)
		if rec.Code != tc.code || resp.Error == "" || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: got %d %q, want %d with a JSON error", tc.name, rec.Code, rec.Body, tc.code)
		}
	}
	var list struct{ Entries []Entry }
	json.Unmarshal(serveDemo(d, "GET", "/api/guestbook", "").Body.Bytes(), &list)
	if len(list.Entries) != 0 {
		t.Fatalf("rejected entries were stored: %v", list.Entries)
	}
}

func TestGuestbookRoundTrip(t *testing.T) {
	d := NewDemo("app-1", NewMemoryStore())
	var empty map[string]json.RawMessage
	json.Unmarshal(serveDemo(d, "GET", "/api/guestbook", "").Body.Bytes(), &empty)
	if string(empty["entries"]) != "[]" || string(empty["storage"]) != `"memory"` {
		t.Fatalf("empty guestbook = %v", empty)
	}

	for i, body := range []string{
		`{"name":"Ann","message":"first!"}`,
		`{"name":" Bob ","message":"64 chars is enough for ` + strings.Repeat("é", 10) + `"}`,
	} {
		rec := serveDemo(d, "POST", "/api/guestbook", body)
		var created struct {
			Storage string
			Entry   Entry
		}
		json.Unmarshal(rec.Body.Bytes(), &created)
		if rec.Code != http.StatusCreated || created.Storage != "memory" || created.Entry.ID != int64(i+1) || created.Entry.Time.IsZero() {
			t.Fatalf("POST %s: got %d %s", body, rec.Code, rec.Body)
		}
	}

	var list struct {
		Storage string
		Entries []Entry
	}
	json.Unmarshal(serveDemo(d, "GET", "/api/guestbook", "").Body.Bytes(), &list)
	if list.Storage != "memory" || len(list.Entries) != 2 || list.Entries[0].Name != "Bob" || list.Entries[1].Message != "first!" {
		t.Fatalf("list = %+v, want Bob (trimmed) then Ann", list)
	}

	page := serveDemo(d, "GET", "/", "").Body.String()
	for _, want := range []string{"first!", "<strong>Bob</strong>", "kept in memory on this app server (app-1) only, because the site has no db server"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestGuestbookEntriesAreEscapedOnThePage(t *testing.T) {
	d := NewDemo("app-1", NewMemoryStore())
	serveDemo(d, "POST", "/api/guestbook", `{"name":"<i>x</i>","message":"<script>alert(1)</script>"}`)
	page := serveDemo(d, "GET", "/", "").Body.String()
	if strings.Contains(page, "<script>alert") || strings.Contains(page, "<i>x</i>") {
		t.Fatal("page shows a guestbook entry unescaped")
	}
}

func TestMemoryStoreKeepsTheNewestEntries(t *testing.T) {
	m := &MemoryStore{max: 3}
	ctx := context.Background()
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		if _, err := m.Add(ctx, Entry{Name: name, Message: "m"}); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := m.List(ctx)
	var names []string
	for _, e := range got {
		names = append(names, e.Name)
	}
	if strings.Join(names, "") != "edc" || got[0].ID != 5 {
		t.Fatalf("entries %v (first id %d), want e d c with id 5 first", names, got[0].ID)
	}
}

func TestCodebaseHoldsTheFilesThePageLinks(t *testing.T) {
	for _, name := range []string{"static/style.css", "static/rampart.svg", "static/guestbook.js"} {
		b, err := fs.ReadFile(Codebase, name)
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %d bytes, %v", name, len(b), err)
		}
	}
	svg, _ := fs.ReadFile(Codebase, "static/rampart.svg")
	var root struct{ XMLName xml.Name }
	if err := xml.Unmarshal(svg, &root); err != nil || root.XMLName.Local != "svg" {
		t.Errorf("rampart.svg is not an SVG document: %v %v", root.XMLName, err)
	}
}

func TestRunDemoServesUntilCancelled(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- RunDemo(ctx, addr, "app-1") }()
	var body string
	eventually(t, 5*time.Second, "the demo to answer", func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return true
	})
	if body != "ok" {
		t.Fatalf("healthz = %q", body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("RunDemo = %v, want nil after cancel", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("RunDemo did not return after cancel")
	}
}
