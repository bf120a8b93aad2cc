package serve

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"
	"weak"
)

// seenRequest is what a handler saw of one request, read while it ran.
type seenRequest struct {
	req                       *http.Request // identity only: never read after the handler
	method, host, path, query string
	first, added, keep, body  string
	headers                   int
}

// TestReuseRequestsReadsEachRequestAfresh: with ReuseRequests, requests
// of one connection share their memory, and each still carries exactly
// what its own head said: no header, query or host of the one before,
// nor a header the handler added to it. Strings taken from an earlier
// request stay as they were. A request with a body, parsed by net/http
// (and, on a loop, served from a goroutine), does not break the reuse.
func TestReuseRequestsReadsEachRequestAfresh(t *testing.T) {
	for _, tc := range []struct {
		name  string
		loops int
		reuse bool
	}{{"goroutines", 0, true}, {"loops", 2, true}, {"off", 0, false}} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var seen []seenRequest
			s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				v := seenRequest{req: r, method: r.Method, host: r.Host, path: r.URL.Path, query: r.URL.RawQuery,
					first: r.Header.Get("X-First"), added: r.Header.Get("X-Added"), keep: r.Header.Get("X-Keep"),
					body: string(body), headers: len(r.Header)}
				r.Header.Set("X-Added", "by the handler") // as the lb adds its own
				mu.Lock()
				seen = append(seen, v)
				mu.Unlock()
				io.WriteString(w, "ok")
			}), Options{OwnHTTP1: true, Loops: tc.loops, ReuseRequests: tc.reuse}, true)
			c := s.dial(t)
			c.SetDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(c)
			for _, raw := range []string{
				"GET /a?x=1 HTTP/1.1\r\nHost: one\r\nX-First: 1\r\nX-Keep: one\r\n\r\n",
				"HEAD /b HTTP/1.1\r\nHost: two\r\nX-Keep: two\r\n\r\n",
				"POST /c HTTP/1.1\r\nHost: three\r\nContent-Length: 2\r\n\r\nhi",
				"GET /d HTTP/1.1\r\nHost: four\r\n\r\n",
			} {
				if _, err := io.WriteString(c, raw); err != nil {
					t.Fatal(err)
				}
				resp, err := http.ReadResponse(br, &http.Request{Method: raw[:4]})
				if err != nil {
					t.Fatal(err)
				}
				io.ReadAll(resp.Body)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%q: status %d", raw, resp.StatusCode)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 4 {
				t.Fatalf("handler saw %d requests, want 4", len(seen))
			}
			want := []seenRequest{
				{method: "GET", host: "one", path: "/a", query: "x=1", first: "1", keep: "one", headers: 2},
				{method: "HEAD", host: "two", path: "/b", keep: "two", headers: 1},
				{method: "POST", host: "three", path: "/c", body: "hi", headers: 1}, // Content-Length
				{method: "GET", host: "four", path: "/d", headers: 0},
			}
			for i, w := range want {
				got := seen[i]
				got.req = nil
				if got != w {
					t.Errorf("request %d: handler saw %+v, want %+v", i+1, got, w)
				}
			}
			reused := seen[0].req == seen[1].req && seen[1].req == seen[3].req
			if reused != tc.reuse {
				t.Errorf("simple requests share one *http.Request: %v, want %v", reused, tc.reuse)
			}
		})
	}
}

// TestReuseRequestsKeepsAHandlersHeaderMap: a handler that gives the
// request a header map of its own keeps it; the next request is read into
// the map serve made, which a handler cannot clear by accident.
func TestReuseRequestsKeepsAHandlersHeaderMap(t *testing.T) {
	mine := http.Header{"K": {"v"}}
	s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := r.Header.Get("X-N")
		if r.URL.Path == "/replace" {
			r.Header = mine
		}
		io.WriteString(w, n)
	}), Options{OwnHTTP1: true, ReuseRequests: true}, true)
	c := s.dial(t)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	for i, path := range []string{"/replace", "/next", "/next"} {
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nX-N: %d\r\n\r\n", path, i)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if want := fmt.Sprint(i); string(body) != want {
			t.Errorf("request %d saw X-N %q, want %q", i, body, want)
		}
	}
	if mine.Get("K") != "v" || len(mine) != 1 {
		t.Errorf("the handler's own header map is now %v, want K: v only", mine)
	}
}

// TestReuseRequestsIdleConnectionHoldsNoResponse: between requests, the
// request kept for reuse no longer refers to the last response (through
// its context), so an idle connection holds no more than before.
func TestReuseRequestsIdleConnectionHoldsNoResponse(t *testing.T) {
	for _, loops := range []int{0, 2} {
		t.Run(fmt.Sprint("loops=", loops), func(t *testing.T) {
			last := make(chan weak.Pointer[h1Response], 1)
			s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				last <- weak.Make(w.(*h1Response))
				io.WriteString(w, "ok")
			}), Options{OwnHTTP1: true, Loops: loops, ReuseRequests: true}, true)
			c := s.dial(t)
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, get("/"))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			io.ReadAll(resp.Body)
			wp := <-last
			// The connection stays open and idle; the response should
			// become garbage once serve is done with it.
			for deadline := time.Now().Add(3 * time.Second); wp.Value() != nil; {
				if time.Now().After(deadline) {
					t.Fatal("an idle connection still holds its last response")
				}
				runtime.GC()
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}
