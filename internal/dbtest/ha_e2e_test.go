package dbtest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/dbrouter"
)

var haDBs = []string{"db-1", "db-2", "db-3"}

// errorsStopWithin is how soon after a db server's death the app's writes
// must succeed again.
const errorsStopWithin = 10 * time.Second

// TestHAPreset runs the ha site through, in order: writes through every app
// server, the death of the preferred db server during continuous writes, a
// full outage of the database tier followed by a new `up`, and a clean stop
// and start. Each step starts where the one before left the site, so a
// failed step ends the test.
func TestHAPreset(t *testing.T) {
	needE2E(t)
	s := newSite(t, "ha", "127.0.34.")
	began := time.Now()
	r := s.up()
	t.Logf("ha site up in %s (3-node Galera bootstrap included)", time.Since(began).Round(100*time.Millisecond))
	lb, _ := s.topo.Server("lb-1")
	c := s.client(lb.Address)
	url := s.url("/api/guestbook")
	var a acked

	if !t.Run("a write through any app server is on all three db servers", func(t *testing.T) {
		for i := range 20 {
			if err := a.post(c, url, "ha", fmt.Sprintf("entry %d", i)); err != nil {
				t.Fatalf("write %d: %v", i, err)
			}
		}
		s.checkAll(&a, haDBs...)
		for _, app := range []string{"app-1", "app-2"} {
			var rs dbrouter.Status
			json.Unmarshal(s.status(app)["db_router"], &rs)
			forwarded := int64(0)
			for _, b := range rs.Backends {
				forwarded += b.Forwarded
			}
			if forwarded == 0 || rs.Active != "db-1" {
				t.Errorf("%s's router: %+v, want connections forwarded, to db-1 first", app, rs)
			}
		}
		if a.servers["db-1"] != 20 {
			t.Errorf("writes answered by %v, want all by db-1, the preferred writer", a.servers)
		}
	}) {
		return
	}

	if !t.Run("SIGKILL of the preferred db server during writes loses nothing acknowledged", func(t *testing.T) {
		stop := a.writeContinuously(c, url, 4)
		time.Sleep(3 * time.Second)
		pid := s.mariadbds()["db-1"]
		if pid == 0 {
			t.Fatal("db-1 runs no mariadbd")
		}
		killedAt := time.Now()
		syscall.Kill(pid, syscall.SIGKILL)
		before := a.len()
		time.Sleep(15 * time.Second)
		errs := stop()
		var last time.Time
		for _, e := range errs {
			if e.at.After(last) {
				last = e.at
			}
		}
		window := time.Duration(0)
		if !last.IsZero() {
			window = last.Sub(killedAt)
		}
		t.Logf("db-1's mariadbd SIGKILLed; %d writes failed, the last %s after the kill; %d acknowledged after it",
			len(errs), window.Round(10*time.Millisecond), a.len()-before)
		if len(errs) > 0 {
			t.Logf("first failure: %v", errs[0].err)
		}
		if window > errorsStopWithin {
			t.Errorf("writes still failed %s after the kill, want none after %s", window, errorsStopWithin)
		}
		if a.len() == before {
			t.Error("no write succeeded after the kill")
		}

		// db-1 comes back by itself, with the missing transactions only.
		deadline := time.Now().Add(120 * time.Second)
		var st = s.dbStatus("db-1")
		for !(st.Ready && st.Restarts > 0) && time.Now().Before(deadline) {
			time.Sleep(500 * time.Millisecond)
			st = s.dbStatus("db-1")
		}
		if !st.Ready || st.Restarts == 0 {
			t.Fatalf("db-1 did not come back: %s (%s)", st.State, st.Detail)
		}
		t.Logf("db-1 synced again %s after the kill, with %+v", time.Since(killedAt).Round(100*time.Millisecond), st.LastTransfer)
		if st.LastTransfer == nil || st.LastTransfer.Kind != "IST" {
			t.Errorf("db-1 rejoined with %+v, want an incremental transfer (IST)", st.LastTransfer)
		}
		s.checkAll(&a, haDBs...)
	}) {
		return
	}

	if !t.Run("after a full outage up recovers from the most advanced node", func(t *testing.T) {
		// Hold `up`, so that nothing restarts, then fail db-3 alone and
		// write on: db-3 is now stale.
		held := r
		held.Cmd.Process.Signal(syscall.SIGSTOP)
		defer held.Cmd.Process.Signal(syscall.SIGCONT) // if a check below fails
		s.crashServers("db-3")
		// A write in flight on db-3 when it died fails unacknowledged;
		// each entry is tried until the site takes it.
		for i := range 10 {
			deadline := time.Now().Add(errorsStopWithin)
			for {
				err := a.post(c, url, "ha", fmt.Sprintf("after db-3 failed, entry %d", i))
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("writes still fail %s after db-3 died: %v", errorsStopWithin, err)
				}
				t.Logf("write with db-3 just dead: %v", err)
				time.Sleep(100 * time.Millisecond)
			}
		}
		s.crashServers("db-1", "db-2")
		r.Cmd.Process.Signal(syscall.SIGKILL)
		<-r.Done()
		deadline := time.Now().Add(30 * time.Second)
		for len(s.processes()) > 0 && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
		}
		if left := s.processes(); len(left) > 0 {
			t.Fatalf("processes left after up died: %v", left)
		}

		began := time.Now()
		r = s.up()
		t.Logf("up again: site up in %s", time.Since(began).Round(100*time.Millisecond))
		var boot []string
		for _, n := range haDBs {
			st := s.dbStatus(n)
			if st.Bootstrapped {
				boot = append(boot, n)
			}
			t.Logf("%s: bootstrapped %v, transfer %+v", n, st.Bootstrapped, st.LastTransfer)
		}
		if len(boot) != 1 || boot[0] == "db-3" {
			t.Errorf("bootstrapped: %v, want one of db-1 and db-2 (db-3 was stale)", boot)
		}
		s.checkAll(&a, haDBs...)
	}) {
		return
	}

	t.Run("after a clean stop up starts again from the node that left last", func(t *testing.T) {
		r.stop()
		if left := s.mariadbds(); len(left) > 0 {
			t.Fatalf("mariadbd left after up stopped: %v", left)
		}
		// up stops the db servers one after the other, in file order.
		for _, n := range haDBs {
			g, err := os.ReadFile(filepath.Join(s.state, "servers", n, "db", "data", "grastate.dat"))
			if err != nil {
				t.Fatal(err)
			}
			if safe := strings.Contains(string(g), "safe_to_bootstrap: 1"); safe != (n == "db-3") || strings.Contains(string(g), "seqno:   -1") {
				t.Errorf("%s's grastate.dat after a clean stop:\n%s", n, g)
			}
		}
		r = s.up()
		for _, n := range haDBs {
			st := s.dbStatus(n)
			if st.Bootstrapped != (n == "db-3") {
				t.Errorf("%s: bootstrapped = %v, want only db-3, which left last", n, st.Bootstrapped)
			}
		}
		if err := a.post(c, url, "ha", "after a clean restart"); err != nil {
			t.Fatal(err)
		}
		s.checkAll(&a, haDBs...)
		r.stop()
		if left := s.mariadbds(); len(left) > 0 {
			t.Errorf("mariadbd left after up stopped: %v", left)
		}
	})
}

// crashServers SIGKILLs the mariadbd and then the `rampart node` of each
// server, as a power failure would end them.
func (s *site) crashServers(names ...string) {
	s.t.Helper()
	dbs := s.mariadbds()
	for _, n := range names {
		if dbs[n] == 0 {
			s.t.Fatalf("%s runs no mariadbd", n)
		}
		syscall.Kill(dbs[n], syscall.SIGKILL)
	}
	for _, n := range names {
		if pid := s.nodePID(n); pid != 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
