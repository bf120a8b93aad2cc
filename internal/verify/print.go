package verify

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Print writes the reachability matrix, the health of every server and
// the problems found.
func (r *Report) Print(w io.Writer) {
	portSet := map[int]bool{}
	type pair struct{ from, to string }
	cells := map[pair]map[int]Check{}
	var pairs []pair
	for _, c := range r.Checks {
		portSet[c.Port] = true
		p := pair{c.From, c.To}
		if cells[p] == nil {
			cells[p] = map[int]Check{}
			pairs = append(pairs, p)
		}
		cells[p][c.Port] = c
	}
	var ports []int
	for p := range portSet {
		ports = append(ports, p)
	}
	sort.Ints(ports)
	fmt.Fprintf(w, "reachability, probed from inside each source (%s)\n", r.Mode)
	fmt.Fprintf(w, "  ✓ open as declared   · closed as declared   ○ declared, nothing listens   ✗ mismatch\n\n")
	fmt.Fprintf(w, "  %-10s %-10s", "from", "to")
	for _, p := range ports {
		fmt.Fprintf(w, " %5d", p)
	}
	fmt.Fprintln(w)
	for _, p := range pairs {
		fmt.Fprintf(w, "  %-10s %-10s", p.from, p.to)
		for _, port := range ports {
			c, ok := cells[p][port]
			mark := " "
			switch {
			case !ok:
			case c.Problem != "":
				mark = "✗"
			case c.Declared && c.Result.Outcome == Refused:
				mark = "○"
			case c.Declared:
				mark = "✓"
			default:
				mark = "·"
			}
			fmt.Fprintf(w, " %5s", mark)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	var servers []string
	for s := range r.Health {
		servers = append(servers, s)
	}
	sort.Strings(servers)
	var health []string
	for _, s := range servers {
		if r.Health[s] == "" {
			health = append(health, s+" healthy")
		} else {
			health = append(health, s+" UNHEALTHY")
		}
	}
	fmt.Fprintf(w, "health: %s\n", strings.Join(health, ", "))
	notes := map[string]bool{}
	for _, c := range r.Checks {
		if key := fmt.Sprint(c.Port, c.Note); c.Note != "" && c.Problem == "" && !notes[key] && !c.Declared {
			notes[key] = true
			fmt.Fprintf(w, "note: port %d: %s\n", c.Port, c.Note)
		}
	}
	problems := r.Problems()
	if len(problems) == 0 {
		fmt.Fprintf(w, "verify: PASS: %d probes match the declared flows; every server is healthy\n", len(r.Checks))
		return
	}
	fmt.Fprintf(w, "problems:\n")
	for _, p := range problems {
		fmt.Fprintf(w, "  %s\n", p)
	}
	fmt.Fprintf(w, "verify: FAIL: %d problems\n", len(problems))
}
