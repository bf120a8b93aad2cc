package harness

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
