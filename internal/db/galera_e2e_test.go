package db

import (
	"context"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var galeraNodes = []string{"db-1", "db-2", "db-3"}

// TestGaleraLifecycle runs one three-node cluster through its life, in
// order: a fresh bootstrap, writes on every node, a crashed node that
// rejoins with an incremental transfer, and a full outage after which the
// cluster comes back from its most advanced node only.
func TestGaleraLifecycle(t *testing.T) {
	needE2E(t)
	site := newTestSite(t, siteYAML("galera", "127.0.31.", galeraNodes...))
	var acked ackedRows

	t.Run("a fresh site bootstraps once, on the first db server", func(t *testing.T) {
		for _, n := range galeraNodes {
			site.start(n)
		}
		took := site.waitReady(240*time.Second, galeraNodes...)
		t.Logf("3-node cluster ready in %s", took.Round(100*time.Millisecond))
		for _, n := range galeraNodes {
			st := site.server(n).Status()
			if st.Bootstrapped != (n == "db-1") {
				t.Errorf("%s: bootstrapped = %v; only db-1 may start a fresh cluster", n, st.Bootstrapped)
			}
			if st.Galera.ClusterSize != 3 {
				t.Errorf("%s: cluster size %d", n, st.Galera.ClusterSize)
			}
		}
	})

	t.Run("every node takes writes and every node sees them", func(t *testing.T) {
		if _, err := site.sql("db-2").Exec("CREATE TABLE app.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(40) NOT NULL)"); err != nil {
			t.Fatal(err)
		}
		for _, n := range galeraNodes {
			acked.insert(t, site.sql(n), "written on "+n)
		}
		site.checkAll(t, &acked, galeraNodes...)
	})

	t.Run("renewed certificates are loaded without a restart", func(t *testing.T) {
		before, pid := site.servedSerial(t, "db-1"), site.mariadbdPID("db-1")
		// Renewal, brought forward: without its files the CA issues anew.
		old, _ := filepath.Glob(filepath.Join(site.state, "pki", "db-1.*.crt"))
		for _, f := range old {
			os.Remove(f)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		renewed, err := site.server("db-1").reloadCertificates(ctx)
		if err != nil || !renewed {
			t.Fatalf("reloadCertificates: renewed %v, %v", renewed, err)
		}
		issued, err := os.ReadFile(filepath.Join(site.state, "pki", "db-1.server.crt"))
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(issued)
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		after := site.servedSerial(t, "db-1")
		if after == before || after != cert.SerialNumber.String() {
			t.Fatalf("db-1 serves certificate %s, was %s; the renewed one is %s", after, before, cert.SerialNumber)
		}
		if now := site.mariadbdPID("db-1"); now != pid {
			t.Fatalf("mariadbd was restarted (pid %d, now %d)", pid, now)
		}
		// The cluster's own traffic still flows both ways.
		acked.insert(t, site.sql("db-1"), "after db-1 renewed")
		acked.insert(t, site.sql("db-3"), "to db-1 after it renewed")
		site.checkAll(t, &acked, galeraNodes...)
		if again, err := site.server("db-1").reloadCertificates(ctx); err != nil || again {
			t.Fatalf("a second check renewed %v (%v); nothing was due", again, err)
		}
	})

	t.Run("a crashed node rejoins with IST and nothing acknowledged is lost", func(t *testing.T) {
		stop := acked.writeContinuously(site.sql("db-1"), "while db-2 crashed")
		time.Sleep(time.Second)
		killed := time.Now()
		site.kill("db-2")
		time.Sleep(2 * time.Second)
		errs := stop()
		took := site.waitRestarted("db-2", killed, 120*time.Second)
		st := site.server("db-2").Status()
		t.Logf("db-2 SIGKILLed during writes; back and synced %s later with %+v; the writer on db-1 saw %d errors",
			took.Round(100*time.Millisecond), st.LastTransfer, len(errs))
		if st.LastTransfer == nil || st.LastTransfer.Kind != "IST" {
			t.Errorf("db-2 rejoined with %+v, want an incremental transfer (IST)", st.LastTransfer)
		}
		if len(errs) > 0 {
			t.Errorf("writes on db-1 failed while db-2 was down: %v", errs[0])
		}
		site.checkAll(t, &acked, galeraNodes...)
	})

	t.Run("after a full outage only the most advanced node starts the cluster", func(t *testing.T) {
		site.crash("db-3")
		acked.insert(t, site.sql("db-1"), "after db-3 crashed")
		site.crash("db-1", "db-2")
		if left := site.leftovers(); len(left) > 0 {
			t.Fatalf("processes left after the outage: %v", left)
		}
		// The stale node comes back first: it must wait, not bootstrap.
		site.start("db-3")
		time.Sleep(5 * time.Second)
		if st := site.server("db-3").Status(); st.State != "waiting" || st.PID != 0 {
			t.Fatalf("db-3, the stale node, alone: %s (%s), want it waiting with mariadbd stopped", st.State, st.Detail)
		} else {
			t.Logf("db-3 alone: %s", st.Detail)
		}
		began := time.Now()
		site.start("db-1")
		site.start("db-2")
		site.waitReady(240*time.Second, galeraNodes...)
		t.Logf("cluster recovered %s after the other nodes started", time.Since(began).Round(100*time.Millisecond))
		// Which of db-1 and db-2 is ahead depends on who saw the other die
		// (a view change takes a seqno): read what each one recovered.
		var reports []Report
		for _, n := range galeraNodes {
			pos, ok := ParseRecovered(readTail(filepath.Join(site.dir(n), "recover.log"), 0))
			if !ok {
				t.Fatalf("%s recovered no position", n)
			}
			reports = append(reports, Report{Name: n, Position: pos})
		}
		best := mostAdvanced(reports, galeraNodes)
		t.Logf("recovered positions %v: %s is the most advanced", reports, best.Name)
		if best.Name == "db-3" {
			t.Fatal("db-3 crashed first, yet recovered the highest seqno")
		}
		for _, n := range galeraNodes {
			st := site.server(n).Status()
			if st.Bootstrapped != (n == best.Name) {
				t.Errorf("%s: bootstrapped = %v; want only %s", n, st.Bootstrapped, best.Name)
			}
			// A donor that crashed too may have lost part of its write-set
			// cache; then Galera falls back to a full transfer, which is
			// slower but as correct.
			if n != best.Name {
				t.Logf("%s rejoined with %+v", n, st.LastTransfer)
			}
		}
		site.checkAll(t, &acked, galeraNodes...)
	})
}

// kill SIGKILLs the mariadbd of name; its supervision restarts it.
func (s *testSite) kill(name string) {
	s.t.Helper()
	pid := s.mariadbdPID(name)
	if pid == 0 {
		s.t.Fatalf("%s: no mariadbd running", name)
	}
	syscall.Kill(pid, syscall.SIGKILL)
}

// crash SIGKILLs the mariadbd of each server and ends its supervision
// before it restarts anything, as when the machine fails.
func (s *testSite) crash(names ...string) {
	s.t.Helper()
	for _, n := range names {
		s.kill(n)
	}
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() { defer wg.Done(); s.stop(n) }()
	}
	wg.Wait()
}

// waitRestarted waits until name's mariadbd was started again after since
// and is ready.
func (s *testSite) waitRestarted(name string, since time.Time, timeout time.Duration) time.Duration {
	s.t.Helper()
	for {
		srv := s.server(name)
		if st := srv.Status(); st.Restarts > 0 && srv.Healthy() == nil && st.Updated.After(since) {
			return time.Since(since)
		}
		if time.Since(since) > timeout {
			st := srv.Status()
			s.t.Fatalf("%s not back after %s: %s (%s)", name, timeout, st.State, st.Detail)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ackedRows are the rows whose INSERT returned without error: each one must
// survive.
type ackedRows struct {
	mu   sync.Mutex
	rows map[int64]string
}

func (a *ackedRows) add(id int64, v string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.rows == nil {
		a.rows = map[int64]string{}
	}
	a.rows[id] = v
}

func (a *ackedRows) insert(t *testing.T, db *sql.DB, v string) {
	t.Helper()
	res, err := db.Exec("INSERT INTO app.t (v) VALUES (?)", v)
	if err != nil {
		t.Fatalf("insert %q: %v", v, err)
	}
	id, _ := res.LastInsertId()
	a.add(id, v)
}

// writeContinuously inserts rows until the returned stop is called, which
// returns the errors seen.
func (a *ackedRows) writeContinuously(db *sql.DB, prefix string) (stop func() []error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan []error)
	go func() {
		var errs []error
		for i := 0; ctx.Err() == nil; i++ {
			v := fmt.Sprintf("%s #%d", prefix, i)
			wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
			res, err := db.ExecContext(wctx, "INSERT INTO app.t (v) VALUES (?)", v)
			wcancel()
			if err != nil {
				if ctx.Err() == nil {
					errs = append(errs, err)
				}
				continue
			}
			id, _ := res.LastInsertId()
			a.add(id, v)
		}
		done <- errs
	}()
	return func() []error { cancel(); return <-done }
}

// sum is the count and checksum that a server must show for the rows.
func (a *ackedRows) sum() (ids []string, count int, crc uint32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, v := range a.rows {
		ids = append(ids, fmt.Sprint(id))
		crc ^= crc32.ChecksumIEEE([]byte(fmt.Sprintf("%d|%s", id, v)))
	}
	return ids, len(a.rows), crc
}

// checkAll checks that every acknowledged row is on every named server, by
// count and by checksum, and that the servers hold the same table.
func (s *testSite) checkAll(t *testing.T, a *ackedRows, names ...string) {
	t.Helper()
	ids, count, crc := a.sum()
	var first string
	for _, n := range names {
		db := s.sql(n)
		var gotCount int
		var gotCRC uint32
		q := "SELECT COUNT(*), COALESCE(BIT_XOR(CRC32(CONCAT_WS('|', id, v))), 0) FROM app.t WHERE id IN (" + strings.Join(ids, ",") + ")"
		// Galera certifies a commit everywhere before it returns, but other
		// nodes apply it a moment later: wait for that, briefly.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if err := db.QueryRow(q).Scan(&gotCount, &gotCRC); err != nil {
				t.Fatalf("%s: %v", n, err)
			}
			if gotCount == count && gotCRC == crc || time.Now().After(deadline) {
				break
			}
		}
		if gotCount != count || gotCRC != crc {
			t.Errorf("%s holds %d of the %d acknowledged rows (checksum %08x, want %08x)", n, gotCount, count, gotCRC, crc)
		}
		var all string
		db.QueryRow("SELECT CONCAT(COUNT(*), '/', COALESCE(BIT_XOR(CRC32(CONCAT_WS('|', id, v))), 0)) FROM app.t").Scan(&all)
		if first == "" {
			first = all
		} else if all != first {
			t.Errorf("%s's table is %s, %s's is %s", n, all, names[0], first)
		}
	}
	t.Logf("%d acknowledged rows on each of %v, checksum %08x", count, names, crc)
}
