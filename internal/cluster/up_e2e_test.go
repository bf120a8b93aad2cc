package cluster_test

import (
	"crypto/tls"
	"fmt"
	"github.com/rampart-dev/rampart/internal/e2e"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/cluster"
	"github.com/rampart-dev/rampart/internal/pki"
	"github.com/rampart-dev/rampart/internal/topology"
)

// site reads back the topology a running up resolved, and its CA.
func (r *running) site(t *testing.T) (*topology.Topology, *pki.CA) {
	t.Helper()
	topo, err := topology.Load(filepath.Join(r.State, "site.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.OpenCA(filepath.Join(r.State, "pki"), topo.Site.Domain)
	if err != nil {
		t.Fatal(err)
	}
	return topo, ca
}

func TestUpServesTheDemoThroughLBWebAndApp(t *testing.T) {
	needE2E(t)
	r := startUp(t) // no file: the seed preset
	topo, ca := r.site(t)
	out := r.Output()
	if !strings.Contains(out, "curl --resolve www.foobar.com:") || !strings.Contains(out, ca.CertPath) {
		t.Errorf("up did not print a curl line with the CA:\n%s", out)
	}
	lb := topo.WithRole(topology.RoleLB)[0]
	client := siteClient(t, ca.CertPath, lb.Address)
	url := fmt.Sprintf("https://www.foobar.com:%d/", topo.Site.HTTPSPort)

	seen := map[string]bool{}
	for i := 0; i < 6; i++ {
		resp, err := client.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %s\n%s", url, resp.Status, body)
		}
		if resp.TLS == nil || resp.TLS.PeerCertificates[0].Subject.CommonName != "www.foobar.com" {
			t.Fatal("not served with the site's certificate")
		}
		if !strings.Contains(resp.Header.Get("Strict-Transport-Security"), "max-age=") {
			t.Error("no HSTS header")
		}
		page := string(body)
		if !strings.Contains(page, "lb-1") {
			t.Fatalf("the page does not name the lb:\n%s", page)
		}
		for _, s := range []string{"server-1", "server-2"} {
			if strings.Contains(page, s) {
				seen[s] = true
			}
		}
	}
	if !seen["server-1"] || !seen["server-2"] {
		t.Errorf("round robin did not reach both servers: %v", seen)
	}

	// The static codebase is served by the web role.
	resp, err := client.Get(url + "static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == "" {
		t.Errorf("static file: %s, ETag %q", resp.Status, resp.Header.Get("ETag"))
	}

	// Plain HTTP redirects to HTTPS.
	plain := fmt.Sprintf("http://www.foobar.com:%d/guestbook?x=1", topo.Site.HTTPPort)
	resp, err = client.Get(plain)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusPermanentRedirect ||
		!strings.HasPrefix(loc, "https://www.foobar.com") || !strings.HasSuffix(loc, "/guestbook?x=1") {
		t.Errorf("plain HTTP: %s, Location %q", resp.Status, loc)
	}
}

// haTopology is the ha preset moved to its own addresses so that tests do
// not clash with each other or with a site the developer is running.
func movedPreset(t *testing.T, name, prefix string) string {
	text, err := topology.PresetText(name)
	if err != nil {
		t.Fatal(err)
	}
	return writeTopology(t, strings.ReplaceAll(string(text), "127.0.1.", prefix))
}

func TestReencryptListenersRefuseWrongPeers(t *testing.T) {
	needE2E(t)
	r := startUp(t, "-f", movedPreset(t, "ha", "127.0.21."))
	topo, ca := r.site(t)
	lbID, _ := ca.ServerIdentity("lb-1", nil)
	dbID, _ := ca.ServerIdentity("db-1", nil)
	app1, _ := topo.Server("app-1")
	for _, svc := range []topology.Service{topology.ServiceWeb, topology.ServiceApp} {
		addr := app1.HostPort(topo.Port(svc))
		// Every probe comes from another server with a flow to this
		// service (lb-1 to web, app-2's web to app), a source the
		// firewall lets through, so what refuses it is mutual TLS.
		var source topology.Server
		for _, f := range topo.Flows() {
			if f.To == app1.Name && f.Service == svc && f.From != app1.Name {
				source, _ = topo.Server(f.From)
				break
			}
		}
		if source.Name == "" {
			t.Fatalf("no server has a flow to %s on app-1", svc)
		}
		dialer := &net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IP(source.IP().AsSlice())}}
		t.Run(string(svc)+"/plaintext", func(t *testing.T) {
			c, err := dialer.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(3 * time.Second))
			fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: www.foobar.com\r\n\r\n")
			reply, _ := io.ReadAll(c)
			if strings.Contains(string(reply), "200 OK") {
				t.Fatalf("plaintext request was served: %q", reply)
			}
		})
		try := func(cert *tls.Certificate) error {
			cfg := &tls.Config{RootCAs: ca.Pool, ServerName: app1.Address}
			if cert != nil {
				cfg.Certificates = []tls.Certificate{*cert}
			}
			c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, DialContext: dialer.DialContext}}
			resp, err := c.Get("https://" + addr + "/")
			if err != nil {
				return err
			}
			resp.Body.Close()
			return nil
		}
		t.Run(string(svc)+"/no certificate", func(t *testing.T) {
			if err := try(nil); err == nil {
				t.Fatal("served a client without a certificate")
			}
		})
		t.Run(string(svc)+"/wrong role", func(t *testing.T) {
			if err := try(&dbID.Client); err == nil {
				t.Fatal("served a db server's certificate")
			}
		})
		if svc == topology.ServiceWeb {
			t.Run("web/the lb's certificate", func(t *testing.T) {
				if err := try(&lbID.Client); err != nil {
					t.Fatalf("refused the lb: %v", err)
				}
			})
		}
	}

	// A client certificate shown to the lb reaches the app as a header, and
	// one forged by the client does not.
	admin, _ := ca.Admin()
	lb := topo.WithRole(topology.RoleLB)[0]
	client := siteClient(t, ca.CertPath, lb.Address)
	client.Transport.(*http.Transport).TLSClientConfig.Certificates = []tls.Certificate{admin}
	req, _ := http.NewRequest("GET", fmt.Sprintf("https://www.foobar.com:%d/api/whoami", topo.Site.HTTPSPort), nil)
	req.Header.Set("X-Rampart-Client-Cert", `subject="CN=forged"`)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "rampart admin") || strings.Contains(string(body), "forged") {
		t.Errorf("client certificate did not travel, or a forged one did: %s", body)
	}
}

const failoverTopology = `
tls:
  policy: reencrypt
lb:
  health: {interval: 300ms, timeout: 250ms, rise: 2, fall: 2}
servers:
  - {name: lb-1,  address: 127.0.22.1, roles: [lb]}
  - {name: web-1, address: 127.0.22.2, roles: [web]}
  - {name: web-2, address: 127.0.22.3, roles: [web]}
  - {name: app-1, address: 127.0.22.4, roles: [app]}
`

func TestKillingAWebServerFailsNoRequest(t *testing.T) {
	needE2E(t)
	r := startUp(t, "-f", writeTopology(t, failoverTopology))
	topo, ca := r.site(t)
	lb := topo.WithRole(topology.RoleLB)[0]
	client := siteClient(t, ca.CertPath, lb.Address)
	url := fmt.Sprintf("https://www.foobar.com:%d/api/whoami", topo.Site.HTTPSPort)

	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(url)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("status %s", resp.Status)
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	time.Sleep(1 * time.Second)
	pid := webPID(t, r.State, "web-1")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	admin, _ := ca.Admin()
	ac := cluster.AdminClient(ca, admin)
	lbAdmin := lb.HostPort(topo.Ports.Admin)
	// The lb stops using web-1 within the health-check window.
	window := time.Duration(topo.LB.Health.Fall+1) * topo.LB.Health.Interval
	waitFor(t, 5*time.Second, "web-1 marked down", func() bool { return !upstreamHealthy(ac, lbAdmin, "web-1") })
	if took := time.Since(killedAt); took > window+time.Second {
		t.Errorf("web-1 taken out after %s, window %s", took, window)
	}
	// up restarts it and the lb takes it back.
	waitFor(t, 20*time.Second, "web-1 back in service", func() bool { return upstreamHealthy(ac, lbAdmin, "web-1") })
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d requests succeeded, %d failed", ok.Load(), failed.Load())
	if failed.Load() > 0 {
		t.Errorf("%d client requests failed; first: %v", failed.Load(), firstErr.Load())
	}
	if ok.Load() < 100 {
		t.Errorf("only %d requests succeeded: the load was not steady", ok.Load())
	}
}

// webPID finds the node process of server name under one state directory.
func webPID(t *testing.T, state, name string) int {
	for _, pid := range e2e.ProcessesMentioning(state) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		args := strings.Split(string(cmdline), "\x00")
		if len(args) > 2 && args[1] == "node" && args[2] == name {
			return pid
		}
	}
	t.Fatalf("no process for %s", name)
	return 0
}

func upstreamHealthy(c *http.Client, adminAddr, name string) bool {
	resp, err := c.Get("https://" + adminAddr + "/status")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var doc struct {
		LB []struct {
			Name    string
			Healthy bool
			Ejected bool
		} `json:"lb"`
	}
	if err := jsonDecode(resp.Body, &doc); err != nil {
		return false
	}
	for _, u := range doc.LB {
		if u.Name == name {
			return u.Healthy && !u.Ejected
		}
	}
	return false
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestBadInputStartsNothing(t *testing.T) {
	needE2E(t)
	busy, err := net.Listen("tcp", "127.0.23.1:9443")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	site := func(extra string) string {
		return extra + `
servers:
  - {name: lb-1, address: 127.0.23.1, roles: [lb]}
  - {name: s-1,  address: 127.0.23.2, roles: [web, app]}
`
	}
	cases := []struct {
		name, file, want string
	}{
		{"malformed file", "servers: [\n", "rampart.yaml:"},
		{"unknown key", site("tls:\n  polcy: reencrypt\n"), "rampart.yaml:2: tls.polcy: unknown key"},
		{"missing certificate file", site("tls:\n  certificate: {source: files, cert_file: /nonexistent/site.crt, key_file: /nonexistent/site.key}\n"),
			"/nonexistent/site.crt: no such file or directory"},
		{"port in use", site(""), "127.0.23.1:9443: bind: address already in use"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			state := t.TempDir()
			cmd := exec.Command(rampartBin, "up", "-f", writeTopology(t, c.file), "--state", state, "--timeout", "20s")
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("up succeeded:\n%s", out)
			}
			errLines := 0
			for _, l := range strings.Split(string(out), "\n") {
				if strings.HasPrefix(l, "rampart: ") {
					errLines++
					if !strings.Contains(l, c.want) {
						t.Errorf("error %q does not say %q", l, c.want)
					}
				}
			}
			if errLines != 1 {
				t.Errorf("want exactly one error line, got:\n%s", out)
			}
			if left := e2e.ProcessesMentioning(state); len(left) > 0 {
				t.Errorf("processes left: %v", left)
			}
		})
	}
}

func TestLoopbackFirewallRefusesUndeclaredSources(t *testing.T) {
	needE2E(t)
	r := startUp(t, "-f", movedPreset(t, "seed", "127.0.24."))
	topo, ca := r.site(t)
	server1, _ := topo.Server("server-1")
	from := func(name string) *net.Dialer {
		s, _ := topo.Server(name)
		return &net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IP(s.IP().AsSlice())}}
	}
	probe := func(d *net.Dialer, addr string) error {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		buf := make([]byte, 64)
		_, err = c.Read(buf)
		return err
	}
	web := server1.HostPort(topo.Ports.Web)
	if err := probe(from("lb-1"), web); err != nil {
		t.Fatalf("the lb cannot reach web on server-1: %v", err)
	}
	if err := probe(from("monitor-1"), web); err == nil {
		t.Fatal("the monitor reached a web port that no flow gives it")
	}
	// The refusal is counted on the server's admin endpoint.
	admin, _ := ca.Admin()
	resp, err := cluster.AdminClient(ca, admin).Get("https://" + server1.HostPort(topo.Ports.Admin) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Firewall struct {
			Backend string
			Refused map[string]int `json:"refused_by_port"`
		} `json:"firewall"`
	}
	if err := jsonDecode(resp.Body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Firewall.Backend != "userspace" || doc.Firewall.Refused[fmt.Sprint(topo.Ports.Web)] < 1 {
		t.Errorf("firewall status %+v: want userspace with a refusal on the web port", doc.Firewall)
	}
	if out, err := runVerify(t, r.State); err != nil || !strings.Contains(out, "verify: PASS") {
		t.Errorf("verify in loopback mode failed (%v):\n%s", err, out)
	}
}
