package monitor

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/rampart-dev/rampart/internal/topology"
)

// TLSFiles are the files a real Prometheus scrapes the admin endpoints
// with: the site CA and a client certificate the endpoints accept (the
// admin's).
type TLSFiles struct {
	CA, Cert, Key string
}

// Prometheus export file names.
const (
	PrometheusConfigFile = "prometheus.yml"
	PrometheusRulesFile  = "rampart-rules.yml"
)

type promConfig struct {
	Global struct {
		ScrapeInterval     string `yaml:"scrape_interval"`
		ScrapeTimeout      string `yaml:"scrape_timeout"`
		EvaluationInterval string `yaml:"evaluation_interval"`
	} `yaml:"global"`
	RuleFiles     []string       `yaml:"rule_files"`
	ScrapeConfigs []scrapeConfig `yaml:"scrape_configs"`
}

type scrapeConfig struct {
	JobName     string `yaml:"job_name"`
	Scheme      string `yaml:"scheme"`
	MetricsPath string `yaml:"metrics_path"`
	// HonorLabels keeps the server label the servers export, which equals
	// the target's.
	HonorLabels   bool           `yaml:"honor_labels"`
	TLSConfig     tlsConfig      `yaml:"tls_config"`
	StaticConfigs []staticConfig `yaml:"static_configs"`
}

type tlsConfig struct {
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

type staticConfig struct {
	Targets []string          `yaml:"targets"`
	Labels  map[string]string `yaml:"labels"`
}

// PrometheusConfig returns a prometheus.yml that scrapes every monitored
// server's admin endpoint as the built-in collector does, and loads
// PrometheusRulesFile from beside it.
func PrometheusConfig(t *topology.Topology, files TLSFiles) ([]byte, error) {
	var c promConfig
	iv := promDuration(t.Monitoring.ScrapeInterval)
	c.Global.ScrapeInterval, c.Global.EvaluationInterval = iv, iv
	c.Global.ScrapeTimeout = promDuration(ScrapeTimeout(t.Monitoring.ScrapeInterval))
	c.RuleFiles = []string{PrometheusRulesFile}
	sc := scrapeConfig{JobName: "rampart", Scheme: "https", MetricsPath: "/metrics", HonorLabels: true,
		TLSConfig: tlsConfig{CAFile: files.CA, CertFile: files.Cert, KeyFile: files.Key}}
	for _, s := range t.Servers {
		if !t.Monitored(s) {
			continue
		}
		var roles []string
		for _, r := range s.Roles {
			roles = append(roles, string(r))
		}
		sc.StaticConfigs = append(sc.StaticConfigs, staticConfig{
			Targets: []string{s.HostPort(t.Ports.Admin)},
			Labels:  map[string]string{"server": s.Name, "roles": strings.Join(roles, ",")},
		})
	}
	c.ScrapeConfigs = []scrapeConfig{sc}
	body, err := yaml.Marshal(c)
	if err != nil {
		return nil, err
	}
	head := fmt.Sprintf("# Written by `rampart export prometheus` from %s.\n"+
		"# It scrapes every server's admin endpoint over mutual TLS with the admin\n"+
		"# certificate, as rampart's own collector does. Run Prometheus from an\n"+
		"# address in firewall.admin_cidrs, or the firewalls keep it out.\n", t.Source)
	return append([]byte(head), body...), nil
}

type promRules struct {
	Groups []ruleGroup `yaml:"groups"`
}

type ruleGroup struct {
	Name     string     `yaml:"name"`
	Interval string     `yaml:"interval"`
	Rules    []promRule `yaml:"rules"`
}

type promRule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// PrometheusRules returns the built-in alert rules as a Prometheus rule
// file: the same conditions, for-durations and severities.
func PrometheusRules(t *topology.Topology) ([]byte, error) {
	interval := t.Monitoring.ScrapeInterval
	g := ruleGroup{Name: "rampart", Interval: promDuration(interval)}
	for _, r := range Rules(t, interval) {
		pr := promRule{Alert: r.Name, Expr: r.Expr, Labels: map[string]string{"severity": r.Severity},
			Annotations: map[string]string{"summary": r.Summary}}
		if r.For > 0 {
			pr.For = promDuration(r.For)
		}
		g.Rules = append(g.Rules, pr)
	}
	body, err := yaml.Marshal(promRules{Groups: []ruleGroup{g}})
	if err != nil {
		return nil, err
	}
	head := fmt.Sprintf("# Written by `rampart export prometheus` from %s: the alert rules\n"+
		"# rampart's own collector evaluates, for a real Prometheus.\n", t.Source)
	return append([]byte(head), body...), nil
}

// ExportPrometheus writes PrometheusConfigFile and PrometheusRulesFile into
// dir and returns their paths.
func ExportPrometheus(t *topology.Topology, dir string, files TLSFiles) ([]string, error) {
	cfg, err := PrometheusConfig(t, files)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	rules, err := PrometheusRules(t)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	var paths []string
	for _, f := range []struct {
		name string
		data []byte
	}{{PrometheusConfigFile, cfg}, {PrometheusRulesFile, rules}} {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}
