package harness

import (
	"testing"
	"time"
)

const wrkSample = `Running 10s test @ https://127.0.0.1:34571/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.55ms    9.12ms 150.02ms   95.12%
    Req/Sec     5.40k   612.33     6.51k    71.00%
  Latency Distribution
     50%  750.00us
     75%    2.10ms
     90%    5.03ms
     99%    1.20s
  107270 requests in 10.00s, 31.02MB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 7
Requests/sec:  10727.31
Transfer/sec:      3.10MB
`

func TestParseWrkReadsThroughputPercentilesAndErrors(t *testing.T) {
	m, err := parseWrk(wrkSample)
	if err != nil {
		t.Fatal(err)
	}
	if m.Requests != 107270 || m.RPS != 10727.31 || m.Elapsed != 10*time.Second {
		t.Errorf("requests %v in %v at %v/s, want 107270 in 10s at 10727.31/s", m.Requests, m.Elapsed, m.RPS)
	}
	if m.P50 != 750*time.Microsecond || m.P99 != 1200*time.Millisecond {
		t.Errorf("p50 %v p99 %v, want 750us and 1.2s", m.P50, m.P99)
	}
	if m.Errors != 12 {
		t.Errorf("errors %d, want 12 (5 socket + 7 non-2xx)", m.Errors)
	}
}

func TestParseWrkRejectsOutputWithoutResults(t *testing.T) {
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused\n"); err == nil {
		t.Error("no error for wrk output without a request count")
	}
}

func TestParseStimeCountsTheNewConnectionPass(t *testing.T) {
	out := "Collecting connection statistics for 2 seconds\n****\n\n157 connections in 0.20s; 785.00 connections/user sec, bytes read 63271\n157 connections in 3 real seconds, 403 bytes read per connection\n"
	n, err := parseStime(out)
	if err != nil || n != 157 {
		t.Errorf("parseStime = %v, %v; want 157", n, err)
	}
	if _, err := parseStime("0 connections in 2 real seconds, 0 bytes read per connection\n"); err == nil {
		t.Error("no error when no connection succeeded")
	}
}

func TestLoadArgsAskForLatencyAndNewConnections(t *testing.T) {
	got := wrkArgs("https://127.0.0.1:1/", 10*time.Second, 2, 64, true)
	want := []string{"-t", "2", "-c", "64", "-d", "10", "--latency", "--timeout", "5s", "-H", "Connection: close", "https://127.0.0.1:1/"}
	if len(got) != len(want) {
		t.Fatalf("wrk args %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("wrk args %q, want %q", got, want)
		}
	}
	s := stimeArgs("127.0.0.1:1", "/", 500*time.Millisecond)
	if s[len(s)-3] != "-new" || s[len(s)-1] != "1" {
		t.Errorf("s_time args %q: want -new and at least 1 second", s)
	}
}
