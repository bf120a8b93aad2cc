package review

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/rampart-dev/rampart/internal/topology"
)

// Severity ranks a finding. The zero value is below every severity.
type Severity int

const (
	// Info is worth knowing; it does not put traffic or data at risk.
	Info Severity = iota + 1
	// Warning is a fault that can take the site or a tier down, cap its
	// growth, or remove a layer of defence.
	Warning
	// Critical exposes data to the network, or can lose data that the site
	// acknowledged.
	Critical
)

var severityNames = map[Severity]string{Info: "info", Warning: "warning", Critical: "critical"}

func (s Severity) String() string {
	if n, ok := severityNames[s]; ok {
		return n
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// MarshalText writes the severity's name, so JSON carries "warning".
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// ParseSeverity reads info, warning or critical.
func ParseSeverity(name string) (Severity, error) {
	for s, n := range severityNames {
		if n == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("%q is not a severity (want info, warning or critical)", name)
}

// Finding is one weakness of a design.
type Finding struct {
	// ID is stable across releases, so tools and people can refer to it.
	ID       string
	Severity Severity
	Title    string
	// Servers and Flows are what the weakness involves, in topology order.
	Servers []string
	Flows   []topology.Flow
	// Why says what goes wrong because of it.
	Why string
	Fix Fix
}

// Fix is the config change that removes a finding.
type Fix struct {
	// Text says the change in words, naming the keys to set.
	Text string
	// Apply makes the same change to a topology. Where the right value is
	// the user's to choose (an address, a URL), it uses a placeholder from
	// the addresses and names reserved for documentation, and Text says so.
	Apply func(t *topology.Topology)
}

// Rule finds one kind of weakness. Its ID, severity and title are fixed;
// find fills in the rest, or reports false when the design is sound.
type Rule struct {
	ID       string
	Severity Severity
	Title    string
	find     func(t *topology.Topology) (Finding, bool)
}

// rules is every rule, family by family, in the order findings of the same
// severity are reported.
var rules = slices.Concat(tlsRules, databaseRules, colocationRules, spofRules, monitoringRules, firewallRules)

// Rules lists every rule the review applies.
func Rules() []Rule { return slices.Clone(rules) }

// Report is the review of one topology.
type Report struct {
	// Source is the file or preset reviewed.
	Source string
	// Servers is how many servers the topology has.
	Servers  int
	Findings []Finding
}

// Review applies every rule to t. Findings come most severe first; each ID
// appears at most once, naming every server it concerns.
func Review(t *topology.Topology) Report {
	r := Report{Source: t.Source, Servers: len(t.Servers)}
	for _, rule := range rules {
		f, ok := rule.find(t)
		if !ok {
			continue
		}
		f.ID, f.Severity, f.Title = rule.ID, rule.Severity, rule.Title
		r.Findings = append(r.Findings, f)
	}
	slices.SortStableFunc(r.Findings, func(a, b Finding) int { return cmp.Compare(b.Severity, a.Severity) })
	return r
}

// AtLeast returns the findings at severity s or above.
func (r Report) AtLeast(s Severity) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Severity >= s {
			out = append(out, f)
		}
	}
	return out
}

// Find returns the finding with id, if the review made it.
func (r Report) Find(id string) (Finding, bool) {
	for _, f := range r.Findings {
		if f.ID == id {
			return f, true
		}
	}
	return Finding{}, false
}

// ApplyFix returns rampart.yaml for t with f's fix applied. It works on a
// copy, read back from t as YAML, and parses the result again, so the file it
// returns is one rampart accepts. Comments of the original file are not kept.
func ApplyFix(t *topology.Topology, f Finding) ([]byte, error) {
	if f.Fix.Apply == nil {
		return nil, fmt.Errorf("fix %s: no change to apply", f.ID)
	}
	c, err := copyOf(t)
	if err != nil {
		return nil, fmt.Errorf("fix %s: %w", f.ID, err)
	}
	f.Fix.Apply(c)
	data, err := yaml.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("fix %s: %w", f.ID, err)
	}
	if _, err := topology.Parse(t.Source, data); err != nil {
		return nil, fmt.Errorf("fix %s: the fixed topology does not validate: %s", f.ID, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return data, nil
}

// copyOf returns a deep copy of t, through its YAML form so no slice or
// pointer is shared.
func copyOf(t *topology.Topology) (*topology.Topology, error) {
	data, err := yaml.Marshal(t)
	if err != nil {
		return nil, err
	}
	return topology.Parse(t.Source, data)
}
