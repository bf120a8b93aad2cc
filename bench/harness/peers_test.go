package harness

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testPeerConf(t *testing.T, certs Certs, name string) peerConf {
	t.Helper()
	return peerConf{
		Listen:   "127.0.0.1:18443",
		Backends: []string{"127.0.0.1:18081", "127.0.0.1:18082"},
		Certs:    certs,
		Dir:      filepath.Join(t.TempDir(), name),
	}
}

func TestPeerConfigsNameBothBackendsTheCertificateAndTheEdgeHeaders(t *testing.T) {
	certs := Certs{SiteCert: "/pki/site.crt", SiteKey: "/pki/site.key", SitePEM: "/pki/site.pem"}
	for _, name := range ThirdParty {
		t.Run(name, func(t *testing.T) {
			cfg := thirdParties[name].config(testPeerConf(t, certs, name))
			for _, want := range []string{"127.0.0.1:18081", "127.0.0.1:18082", "18443", "/pki/site", hstsValue, "X-Request-Id"} {
				if !strings.Contains(cfg, want) {
					t.Errorf("%s config lacks %q:\n%s", name, want, cfg)
				}
			}
		})
	}
}

// TestPeerConfigsAreAcceptedByThePeers has each installed peer check its
// own config, with real certificates, so a config the harness writes never
// first fails in the middle of a benchmark.
func TestPeerConfigsAreAcceptedByThePeers(t *testing.T) {
	certs, err := PreparePKI(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	check := map[string]func(conf string) []string{
		PeerHAProxy: func(conf string) []string { return []string{"-c", "-f", conf} },
		PeerNginx:   func(conf string) []string { return []string{"-t", "-p", filepath.Dir(conf), "-c", conf} },
		PeerCaddy:   func(conf string) []string { return []string{"validate", "--config", conf, "--adapter", "caddyfile"} },
	}
	for _, name := range ThirdParty {
		t.Run(name, func(t *testing.T) {
			tp := thirdParties[name]
			bin, err := exec.LookPath(tp.bin)
			if err != nil {
				t.Skipf("%s is not installed (bench/run installs it)", tp.bin)
			}
			c := testPeerConf(t, certs, name)
			conf, err := tp.writeConfig(c)
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, check[name](conf)...)
			if tp.env != nil {
				cmd.Env = append(cmd.Environ(), tp.env(c.Dir)...)
			}
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s rejects its config: %v\n%s", name, err, out)
			}
		})
	}
}

func TestNginxBackendConfigServesTheGoBackendsBodiesAndHeaders(t *testing.T) {
	cfg := nginxBackendConfig("web-2", "127.0.0.1:18082", "/out/conf/backend-web-2")
	small := strings.TrimSuffix(string(fill(SmallBodySize)), "\n")
	for _, want := range []string{
		"listen 127.0.0.1:18082;",
		"add_header " + HeaderBackend + " web-2 always;",
		"add_header " + HeaderBackendProto + " http always;",
		`return 200 "` + small + `\n";`,
		"location = " + PathLarge + " {\n\t\t\talias /out/conf/backend-web-2/large.txt;",
		"keepalive_requests 1000000;",
		"worker_processes 1;",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("nginx backend config lacks %q:\n%s", want, cfg)
		}
	}
}

// TestNginxBackendAnswersLikeTheGoBackend runs the nginx backend the harness
// writes and checks, as the preflight will, each path's body and headers.
func TestNginxBackendAnswersLikeTheGoBackend(t *testing.T) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("nginx is not installed (bench/run installs it)")
	}
	addrs, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "backend-web-1")
	conf, err := writeNginxBackend("web-1", addrs[0], dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := startProc("web-1", filepath.Join(t.TempDir(), "web-1.log"), nil, bin, "-p", dir, "-c", conf)
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop(5 * time.Second)
	c := &http.Client{Timeout: time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := waitReady(ctx, c, "http://"+addrs[0]+PathHealth, alive(p)); err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{PathSmall: fill(SmallBodySize), PathLarge: fill(LargeBodySize), PathHealth: fill(SmallBodySize)}
	for path, body := range want {
		resp, err := c.Get("http://" + addrs[0] + path)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(got, body) {
			t.Errorf("GET %s: %d, %d bytes; want 200 and the Go backend's %d bytes", path, resp.StatusCode, len(got), len(body))
		}
		if resp.Header.Get(HeaderBackend) != "web-1" || resp.Header.Get(HeaderBackendProto) != "http" {
			t.Errorf("GET %s: headers %v, want %s web-1 and %s http", path, resp.Header, HeaderBackend, HeaderBackendProto)
		}
	}
}

func TestNginxBackendsLeaveOutReencryptUnlessAskedFor(t *testing.T) {
	all, err := selectScenarios(nil, map[string]bool{PeerHAProxy: true, PeerRampart: true, PeerRampartReencrypt: true})
	if err != nil {
		t.Fatal(err)
	}
	got, err := withoutReencrypt(all, true)
	if err != nil || len(got) != len(all)-1 {
		t.Fatalf("by default: %d scenarios, %v; want all %d but reencrypt", len(got), err, len(all)-1)
	}
	for _, s := range got {
		if s.Name == "reencrypt" {
			t.Error("reencrypt kept with nginx backends")
		}
	}
	if _, err := withoutReencrypt(all, false); err == nil || !strings.Contains(err.Error(), "mutual-TLS") {
		t.Errorf("reencrypt asked for by name with nginx backends: error %v, want one naming the missing mutual-TLS listener", err)
	}
}
