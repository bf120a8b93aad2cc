package review

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/rampart-dev/rampart/internal/topology"
)

// width is where text output wraps, so it reads in an 80-column terminal.
const width = 79

// Counts returns how many findings the report has at each severity.
func (r Report) Counts() map[Severity]int {
	c := map[Severity]int{Critical: 0, Warning: 0, Info: 0}
	for _, f := range r.Findings {
		c[f.Severity]++
	}
	return c
}

// Summary is one line: the source, and the findings by severity.
func (r Report) Summary() string {
	c := r.Counts()
	n := len(r.Findings)
	return fmt.Sprintf("%s, %d %s, %d %s (%d critical, %d warning, %d info)", r.Source,
		r.Servers, plural(r.Servers, "server", "servers"), n, plural(n, "finding", "findings"),
		c[Critical], c[Warning], c[Info])
}

// WriteText writes the report for people: each finding with its servers,
// flows, why it matters and its fix.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "rampart check: %s\n", r.Summary())
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "\n%-8s  %s  %s\n", strings.ToUpper(f.Severity.String()), f.ID, f.Title)
		if len(f.Servers) > 0 {
			field(&b, "servers", strings.Join(f.Servers, ", "))
		}
		for i, fl := range f.Flows {
			label := ""
			if i == 0 {
				label = "flows"
			}
			fmt.Fprintf(&b, "  %-8s %s\n", label, flowText(fl))
		}
		field(&b, "why", f.Why)
		field(&b, "fix", f.Fix.Text)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// field writes "  label    text", wrapping text under itself.
func field(b *strings.Builder, label, text string) {
	const indent = "           "
	line := fmt.Sprintf("  %-8s", label)
	n := len(line)
	for i, word := range strings.Fields(text) {
		if i > 0 && n+1+len(word) > width {
			line += "\n" + indent
			n = len(indent)
		} else {
			line += " "
			n++
		}
		line += word
		n += len(word)
	}
	b.WriteString(line + "\n")
}

func flowText(f topology.Flow) string {
	return fmt.Sprintf("%s -> %s  %s/%d  %s", f.From, f.To, f.Service, f.Port, f.Protection)
}

type jsonFlow struct {
	From       string `json:"from"`
	To         string `json:"to"`
	Service    string `json:"service"`
	Port       int    `json:"port"`
	Protection string `json:"protection"`
}

type jsonFinding struct {
	ID       string     `json:"id"`
	Severity Severity   `json:"severity"`
	Title    string     `json:"title"`
	Servers  []string   `json:"servers"`
	Flows    []jsonFlow `json:"flows"`
	Why      string     `json:"why"`
	Fix      string     `json:"fix"`
}

type jsonReport struct {
	Source   string         `json:"source"`
	Servers  int            `json:"servers"`
	Counts   map[string]int `json:"counts"`
	Findings []jsonFinding  `json:"findings"`
}

// WriteJSON writes the report for tools, as one JSON object. Lists are
// never null, so a tool can iterate them without checking.
func (r Report) WriteJSON(w io.Writer) error {
	out := jsonReport{Source: r.Source, Servers: r.Servers, Counts: map[string]int{}, Findings: []jsonFinding{}}
	for s, n := range r.Counts() {
		out.Counts[s.String()] = n
	}
	for _, f := range r.Findings {
		jf := jsonFinding{ID: f.ID, Severity: f.Severity, Title: f.Title, Servers: append([]string{}, f.Servers...),
			Flows: []jsonFlow{}, Why: f.Why, Fix: f.Fix.Text}
		for _, fl := range f.Flows {
			jf.Flows = append(jf.Flows, jsonFlow{fl.From, fl.To, string(fl.Service), fl.Port, string(fl.Protection)})
		}
		out.Findings = append(out.Findings, jf)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
