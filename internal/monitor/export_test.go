package monitor

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rampart-dev/rampart/internal/pki"
	"github.com/rampart-dev/rampart/internal/topology"
)

// promtool returns Debian's promtool. Without it the test is skipped,
// except under RAMPART_E2E, where the suite must prove the export.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("RAMPART_E2E") != "" {
			t.Fatal("promtool is missing: scripts/install-deps installs the prometheus package")
		}
		t.Skip("promtool not installed (Debian package prometheus)")
	}
	return p
}

func export(t *testing.T, topo *topology.Topology) (dir string, files TLSFiles) {
	t.Helper()
	state := t.TempDir()
	ca, err := pki.OpenCA(filepath.Join(state, "pki"), topo.Site.Domain)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Admin(); err != nil {
		t.Fatal(err)
	}
	files = TLSFiles{CA: ca.CertPath, Cert: filepath.Join(state, "pki", "admin.client.crt"), Key: filepath.Join(state, "pki", "admin.client.key")}
	dir = t.TempDir()
	if _, err := ExportPrometheus(topo, dir, files); err != nil {
		t.Fatal(err)
	}
	return dir, files
}

func TestExportedPrometheusFilesPassPromtool(t *testing.T) {
	tool := promtool(t)
	for _, preset := range []string{"seed", "ha"} {
		t.Run(preset, func(t *testing.T) {
			topo, _ := topology.Preset(preset)
			dir, _ := export(t, topo)
			for _, args := range [][]string{
				{"check", "config", filepath.Join(dir, PrometheusConfigFile)},
				{"check", "rules", filepath.Join(dir, PrometheusRulesFile)},
			} {
				out, err := exec.Command(tool, args...).CombinedOutput()
				if err != nil {
					t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
				}
			}
			data, _ := os.ReadFile(filepath.Join(dir, PrometheusConfigFile))
			var cfg promConfig
			if err := yaml.Unmarshal(data, &cfg); err != nil {
				t.Fatal(err)
			}
			targets := map[string]string{}
			for _, sc := range cfg.ScrapeConfigs[0].StaticConfigs {
				targets[sc.Labels["server"]] = sc.Targets[0]
			}
			for _, s := range topo.Servers {
				if targets[s.Name] != s.HostPort(topo.Ports.Admin) {
					t.Errorf("%s: scraped at %q, want its admin endpoint %s", s.Name, targets[s.Name], s.HostPort(topo.Ports.Admin))
				}
			}
		})
	}
}

// TestExportedRulesFireAsTheBuiltInOnes runs promtool's rule unit tests on
// the exported rules with the same inputs the built-in rule tests use: a
// server that stops answering fires ServerDown after the rule's For, a
// backend the lb takes out fires BackendEjected at once, 10% of 5xx fires
// HighErrorRatio after a minute.
func TestExportedRulesFireAsTheBuiltInOnes(t *testing.T) {
	tool := promtool(t)
	topo, _ := topology.Preset("ha")
	topo.Monitoring.ScrapeInterval = 5 * time.Second
	dir, _ := export(t, topo)
	summary := map[string]string{}
	for _, r := range Rules(topo, topo.Monitoring.ScrapeInterval) {
		summary[r.Name] = r.Summary
	}
	type alert struct {
		Labels      map[string]string `yaml:"exp_labels"`
		Annotations map[string]string `yaml:"exp_annotations"`
	}
	type check struct {
		EvalTime string  `yaml:"eval_time"`
		Alert    string  `yaml:"alertname"`
		Expected []alert `yaml:"exp_alerts"`
	}
	type series struct {
		Series string `yaml:"series"`
		Values string `yaml:"values"`
	}
	type test struct {
		Interval string   `yaml:"interval"`
		Input    []series `yaml:"input_series"`
		Checks   []check  `yaml:"alert_rule_test"`
	}
	firing := func(rule string, labels map[string]string) []alert {
		return []alert{{Labels: labels, Annotations: map[string]string{"summary": summary[rule]}}}
	}
	down := map[string]string{"severity": "critical", "job": "rampart", "server": "app-1"}
	ejected := map[string]string{"severity": "warning", "server": "lb-1", "service": "web", "backend": "app-2"}
	errs := map[string]string{"severity": "warning", "server": "lb-1", "role": "lb"}
	tests := map[string]any{
		"rule_files":          []string{PrometheusRulesFile},
		"evaluation_interval": "5s",
		"tests": []test{
			{
				Interval: "5s",
				Input:    []series{{`up{job="rampart",server="app-1"}`, "1 1 0 0 0 0 1 1"}},
				Checks: []check{
					{"5s", "ServerDown", nil},
					{"15s", "ServerDown", nil}, // pending: down for 5s of its 10s
					{"20s", "ServerDown", firing("ServerDown", down)},
					{"35s", "ServerDown", nil}, // answering again
				},
			},
			{
				Interval: "5s",
				Input:    []series{{`rampart_backend_ejections_total{server="lb-1",service="web",backend="app-2"}`, "0 0 0 1 1 1x20"}},
				Checks: []check{
					{"10s", "BackendEjected", nil},
					{"20s", "BackendEjected", firing("BackendEjected", ejected)},
					{"100s", "BackendEjected", nil},
				},
			},
			{
				Interval: "5s",
				Input: []series{
					{`rampart_http_requests_total{server="lb-1",role="lb",method="GET",code_class="2xx"}`, "0+45x40"},
					{`rampart_http_requests_total{server="lb-1",role="lb",method="GET",code_class="5xx"}`, "0+5x40"},
				},
				Checks: []check{
					{"30s", "HighErrorRatio", nil},
					{"2m", "HighErrorRatio", firing("HighErrorRatio", errs)},
				},
			},
		},
	}
	data, err := yaml.Marshal(tests)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rules_test.yml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(tool, "test", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("promtool test rules: %v\n%s\n%s", err, out, data)
	}
}
