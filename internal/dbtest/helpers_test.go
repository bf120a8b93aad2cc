package dbtest

import (
	"bytes"
	"context"
	"crypto/tls"
	"database/sql"
	"encoding/json"
	"fmt"
	"github.com/rampart-dev/rampart/internal/e2e"
	"hash/crc32"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rampart-dev/rampart/internal/cluster"
	"github.com/rampart-dev/rampart/internal/db"
	"github.com/rampart-dev/rampart/internal/pki"
	"github.com/rampart-dev/rampart/internal/topology"
)

// rampartBin is built once for every test, as `up` runs each server from
// the binary.
var rampartBin string

func TestMain(m *testing.M) { e2e.Main(m, &rampartBin) }

func needE2E(t *testing.T) {
	t.Helper()
	e2e.Need(t, rampartBin)
	for _, bin := range []string{"mariadbd", "mariadb-install-db", "rsync", "stunnel"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is not installed: run scripts/install-deps", bin)
		}
	}
}

// startTimeout is how long `up` may take to bring a site up here. A fresh
// Galera cluster makes two full state transfers, and the machine is shared.
const startTimeout = 240 * time.Second

// site is a state directory and the topology that `up` runs from it.
type site struct {
	t     *testing.T
	state string
	file  string
	topo  *topology.Topology
}

// newSite moves preset name to the addresses prefix+N and gives it a state
// directory with a short path, since mariadbd's socket lives under it.
func newSite(t *testing.T, preset, prefix string) *site {
	t.Helper()
	text, err := topology.PresetText(preset)
	if err != nil {
		t.Fatal(err)
	}
	text = []byte(strings.ReplaceAll(string(text), "127.0.1.", prefix))
	state, err := os.MkdirTemp("", "rup-")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(state, "rampart.yaml")
	if err := os.WriteFile(file, text, 0o644); err != nil {
		t.Fatal(err)
	}
	topo, err := topology.Parse(file, text)
	if err != nil {
		t.Fatal(err)
	}
	s := &site{t: t, state: state, file: file, topo: topo}
	t.Cleanup(func() {
		if left := s.processes(); len(left) > 0 {
			t.Errorf("processes of the site left at the end: %v", left)
			for _, pid := range left {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if os.Getenv("RAMPART_TEST_KEEP") != "" {
			t.Logf("kept state in %s", state)
			return
		}
		os.RemoveAll(state)
	})
	return s
}

// running is one `rampart up` of a site.
type running struct {
	*e2e.Up
	s *site
}

// up runs `rampart up` and waits until the site is up. Cleanup stops it.
func (s *site) up() *running {
	s.t.Helper()
	u := e2e.StartUp(s.t, rampartBin, s.state, startTimeout+30*time.Second, func(u *e2e.Up) {
		u.Stop(s.t, 60*time.Second)
		if s.t.Failed() {
			s.t.Logf("rampart up printed:\n%s", u.Output())
			s.logTails()
		}
	}, "-f", s.file, "--timeout", startTimeout.String())
	return &running{Up: u, s: s}
}

// stop sends SIGTERM to `up` and waits for it.
func (r *running) stop() { r.Stop(r.s.t, 60*time.Second) }

func (s *site) logTails() {
	logs, _ := filepath.Glob(filepath.Join(s.state, "logs", "*.log"))
	for _, l := range logs {
		data, _ := os.ReadFile(l)
		s.t.Logf("%s:\n%s", filepath.Base(l), tail(string(data), 12))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// processes lists every process whose command line or environment names
// the site's state directory: its servers, their applications, mariadbd
// and the state transfer helpers.
func (s *site) processes() []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil || pid == os.Getpid() {
			continue
		}
		for _, f := range []string{"cmdline", "environ"} {
			data, err := os.ReadFile(filepath.Join("/proc", e.Name(), f))
			if err == nil && bytes.Contains(data, []byte(s.state+"/")) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// mariadbds lists the mariadbd processes of the site by server.
func (s *site) mariadbds() map[string]int {
	out := map[string]int{}
	for _, pid := range s.processes() {
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if filepath.Base(exe) != "mariadbd" {
			continue
		}
		env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		for _, kv := range strings.Split(string(env), "\x00") {
			if dir, ok := strings.CutPrefix(kv, "RAMPART_DB_DIR="); ok {
				out[filepath.Base(filepath.Dir(dir))] = pid
			}
		}
	}
	return out
}

// nodePID returns the PID of `rampart node name` of this site.
func (s *site) nodePID(name string) int {
	for _, pid := range s.processes() {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		args := strings.Split(string(cmdline), "\x00")
		if len(args) > 2 && args[1] == "node" && args[2] == name {
			return pid
		}
	}
	return 0
}

// client returns an HTTPS client for the site that sends every request to
// the lb at lbAddr, as curl --resolve does.
func (s *site) client(lbAddr string) *http.Client {
	ca, err := pki.OpenCA(filepath.Join(s.state, "pki"), s.topo.Site.Domain)
	if err != nil {
		s.t.Fatal(err)
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 15 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: ca.Pool},
			MaxIdleConnsPerHost: 32,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				_, port, _ := net.SplitHostPort(addr)
				return dialer.DialContext(ctx, network, net.JoinHostPort(lbAddr, port))
			},
		},
	}
}

func (s *site) url(path string) string {
	return fmt.Sprintf("https://%s:%d%s", s.topo.Site.Domain, s.topo.Site.HTTPSPort, path)
}

// status reads server name's admin /status with the admin certificate.
func (s *site) status(name string) map[string]json.RawMessage {
	s.t.Helper()
	ca, err := pki.OpenCA(filepath.Join(s.state, "pki"), s.topo.Site.Domain)
	if err != nil {
		s.t.Fatal(err)
	}
	admin, err := ca.Admin()
	if err != nil {
		s.t.Fatal(err)
	}
	srv, _ := s.topo.Server(name)
	resp, err := cluster.AdminClient(ca, admin).Get("https://" + srv.HostPort(s.topo.Ports.Admin) + "/status")
	if err != nil {
		s.t.Fatalf("%s /status: %v", name, err)
	}
	defer resp.Body.Close()
	var doc map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		s.t.Fatalf("%s /status: %v", name, err)
	}
	return doc
}

// dbStatus is the "db" part of a db server's /status.
func (s *site) dbStatus(name string) db.Status {
	var st db.Status
	if err := json.Unmarshal(s.status(name)["db"], &st); err != nil {
		s.t.Fatalf("%s: db status: %v", name, err)
	}
	return st
}

// sql connects to db server name's mariadbd over its socket, as root.
func (s *site) sql(name string) *sql.DB {
	s.t.Helper()
	c := mysql.NewConfig()
	c.User, c.Net = "root", "unix"
	c.Addr = db.Layout{Dir: filepath.Join(s.state, "servers", name, "db")}.Socket()
	c.Timeout, c.ReadTimeout, c.WriteTimeout = 2*time.Second, 10*time.Second, 10*time.Second
	c.Logger = log.New(io.Discard, "", 0)
	conn, err := mysql.NewConnector(c)
	if err != nil {
		s.t.Fatal(err)
	}
	d := sql.OpenDB(conn)
	s.t.Cleanup(func() { d.Close() })
	return d
}

// entry is a guestbook entry the app acknowledged with 201.
type entry struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Message string `json:"message"`
}

// acked are the entries the app acknowledged: each one must survive.
type acked struct {
	mu      sync.Mutex
	entries map[int64]entry
	servers map[string]int // db servers that answered, by count
}

func (a *acked) add(e entry, dbServer string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.entries == nil {
		a.entries, a.servers = map[int64]entry{}, map[string]int{}
	}
	a.entries[e.ID] = e
	a.servers[dbServer]++
}

func (a *acked) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.entries)
}

// post signs the guestbook through the site and records the entry when the
// app acknowledges it.
func (a *acked) post(c *http.Client, url, name, message string) error {
	body, _ := json.Marshal(map[string]string{"name": name, "message": message})
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out struct {
		Entry    entry  `json:"entry"`
		DBServer string `json:"db_server"`
		Error    string `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("%s: %s", resp.Status, out.Error)
	}
	if out.Entry.ID == 0 {
		return fmt.Errorf("201 without an entry id")
	}
	a.add(out.Entry, out.DBServer)
	return nil
}

// writeErr is one failed write and when it happened.
type writeErr struct {
	at  time.Time
	err error
}

// writeContinuously signs the guestbook from several clients until stop is
// called, which returns the failures.
func (a *acked) writeContinuously(c *http.Client, url string, writers int) (stop func() []writeErr) {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var errs []writeErr
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				if err := a.post(c, url, fmt.Sprintf("writer-%d", w), fmt.Sprintf("entry %d of writer %d", i, w)); err != nil {
					mu.Lock()
					errs = append(errs, writeErr{time.Now(), err})
					mu.Unlock()
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	return func() []writeErr { cancel(); wg.Wait(); return errs }
}

// checkAll checks that every acknowledged entry is on each db server, by
// count and by checksum, and that they all hold the same table.
func (s *site) checkAll(a *acked, names ...string) {
	s.t.Helper()
	a.mu.Lock()
	var ids []string
	var crc uint32
	for id, e := range a.entries {
		ids = append(ids, fmt.Sprint(id))
		crc ^= crc32.ChecksumIEEE([]byte(fmt.Sprintf("%d|%s|%s", id, e.Name, e.Message)))
	}
	count := len(a.entries)
	a.mu.Unlock()
	var whole []string
	for _, n := range names {
		d := s.sql(n)
		var gotCount int
		var gotCRC uint32
		q := "SELECT COUNT(*), COALESCE(BIT_XOR(CRC32(CONCAT_WS('|', id, name, message))), 0) FROM app.guestbook WHERE id IN (" +
			strings.Join(ids, ",") + ")"
		// A replica or a node just back may trail by a moment.
		deadline := time.Now().Add(20 * time.Second)
		for {
			err := d.QueryRow(q).Scan(&gotCount, &gotCRC)
			if err == nil && gotCount == count && gotCRC == crc || time.Now().After(deadline) {
				if err != nil {
					s.t.Fatalf("%s: %v", n, err)
				}
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if gotCount != count || gotCRC != crc {
			s.t.Errorf("%s holds %d of the %d acknowledged entries (checksum %08x, want %08x)", n, gotCount, count, gotCRC, crc)
		}
		var all string
		d.QueryRow("SELECT CONCAT(COUNT(*), '/', COALESCE(BIT_XOR(CRC32(CONCAT_WS('|', id, name, message))), 0)) FROM app.guestbook").Scan(&all)
		whole = append(whole, n+"="+all)
	}
	for _, w := range whole[1:] {
		if strings.SplitN(w, "=", 2)[1] != strings.SplitN(whole[0], "=", 2)[1] {
			s.t.Errorf("the db servers' tables differ: %v", whole)
			break
		}
	}
	s.t.Logf("all %d acknowledged entries on %v (checksum %08x)", count, names, crc)
}
