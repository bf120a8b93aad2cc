package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckSeedFailsOnWarningByDefault(t *testing.T) {
	var out bytes.Buffer
	err := check(&out, []string{"--preset", "seed"})
	if err == nil || err.Error() != "check: preset:seed has 4 findings at warning or above (--fail-on warning)" {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"RAMPART-TLS-TERMINATED", "RAMPART-DB-SINGLE-WRITER", "RAMPART-COLOCATED-TIERS",
		"RAMPART-SPOF-LB", "RAMPART-SPOF-COLLECTOR", "  why ", "  fix ", "tls.policy: reencrypt"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestCheckHAPasses(t *testing.T) {
	var out bytes.Buffer
	if err := check(&out, []string{"--preset", "ha"}); err != nil {
		t.Fatalf("err = %v\n%s", err, out.String())
	}
	if err := check(&out, []string{"--preset", "ha", "--fail-on", "info"}); err == nil {
		t.Error("--fail-on info passed although ha has an info finding")
	}
}

func TestCheckJSON(t *testing.T) {
	var out bytes.Buffer
	err := check(&out, []string{"--preset", "seed", "--format", "json", "--fail-on", "none"})
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Source   string
		Counts   map[string]int
		Findings []struct {
			ID, Severity, Title, Why, Fix string
			Servers                       []string
			Flows                         []struct {
				From, To, Service, Protection string
				Port                          int
			}
		}
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if r.Source != "preset:seed" || len(r.Findings) != 5 || r.Counts["critical"] != 2 || r.Counts["warning"] != 2 || r.Counts["info"] != 1 {
		t.Fatalf("report %+v", r)
	}
	first := r.Findings[0]
	if first.ID != "RAMPART-TLS-TERMINATED" || first.Severity != "critical" || first.Why == "" || first.Fix == "" ||
		len(first.Servers) == 0 || len(first.Flows) == 0 || first.Flows[0].Protection != "plaintext" || first.Flows[0].Port == 0 {
		t.Errorf("first finding %+v", first)
	}
}

func TestCheckFailOnCritical(t *testing.T) {
	var out bytes.Buffer
	err := check(&out, []string{"--preset", "seed", "--fail-on", "critical"})
	if err == nil || !strings.Contains(err.Error(), "2 findings at critical or above") {
		t.Errorf("err = %v", err)
	}
}

func TestCheckReadsAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rampart.yaml")
	yaml := `
firewall:
  admin_cidrs: [0.0.0.0/0]
servers:
  - {name: lb-1, address: 127.0.1.1, roles: [lb]}
  - {name: lb-2, address: 127.0.1.2, roles: [lb]}
  - {name: app-1, address: 127.0.1.3, roles: [web, app]}
  - {name: app-2, address: 127.0.1.4, roles: [web, app]}
  - {name: monitor-1, address: 127.0.1.5, roles: [monitor]}
`
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := check(&out, []string{"-f", path})
	if err == nil || !strings.Contains(err.Error(), "1 finding at warning or above") {
		t.Fatalf("err = %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "RAMPART-FIREWALL-ADMIN-WORLD") {
		t.Errorf("report:\n%s", out.String())
	}
}

func TestCheckRefusesBadFlags(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--format", "yaml"}, `check: --format "yaml": want text or json`},
		{[]string{"--fail-on", "high"}, `check: --fail-on "high": want info, warning, critical or none`},
		{[]string{"-f", "x.yaml", "--preset", "ha"}, "-f and --preset are exclusive: choose one"},
		{[]string{"rampart.yaml"}, `check: unexpected argument "rampart.yaml"; pass the topology with -f FILE`},
	}
	for _, c := range cases {
		err := check(&bytes.Buffer{}, c.args)
		if err == nil || err.Error() != c.want {
			t.Errorf("%v: err = %v, want %s", c.args, err, c.want)
		}
	}
}
