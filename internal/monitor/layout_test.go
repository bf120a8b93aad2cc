package monitor

import (
	"fmt"
	"testing"

	"github.com/rampart-dev/rampart/internal/topology"
)

func TestTheDiagramDrawsEveryServerAndEveryFlow(t *testing.T) {
	for _, preset := range []string{"seed", "ha"} {
		t.Run(preset, func(t *testing.T) {
			topo, err := topology.Preset(preset)
			if err != nil {
				t.Fatal(err)
			}
			d := Layout(topo)
			boxes := map[string]Box{}
			for _, b := range d.Servers {
				boxes[b.Name] = b
				if b.X < 0 || b.Y < 0 || b.X+b.W > d.Width || b.Y+b.H > d.Height {
					t.Errorf("%s at (%d,%d %dx%d) is outside the %dx%d diagram", b.Name, b.X, b.Y, b.W, b.H, d.Width, d.Height)
				}
				for _, r := range b.Roles {
					if _, ok := b.Rows[r]; !ok {
						t.Errorf("%s has no row for its %s role", b.Name, r)
					}
				}
			}
			for _, s := range topo.Servers {
				if _, ok := boxes[s.Name]; !ok {
					t.Errorf("server %s is not in the diagram", s.Name)
				}
			}
			for i, a := range d.Servers {
				for _, b := range d.Servers[i+1:] {
					if a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H {
						t.Errorf("%s and %s overlap", a.Name, b.Name)
					}
				}
			}
			edges := map[string]bool{}
			for _, e := range d.Edges {
				if edges[e.ID] {
					t.Errorf("edge %s drawn twice", e.ID)
				}
				edges[e.ID] = true
				if e.Path == "" {
					t.Errorf("edge %s has no path", e.ID)
				}
			}
			// Every flow the topology derives is drawn, folded as documented.
			for _, f := range topo.Flows() {
				id := ""
				switch f.Service {
				case topology.ServiceHTTP, topology.ServiceSSH, topology.ServiceDashboard:
					continue
				case topology.ServiceIST, topology.ServiceSST, topology.ServiceGalera:
					a, b := f.From, f.To
					if b < a {
						a, b = b, a
					}
					id = fmt.Sprintf("%s>%s:galera", a, b)
				default:
					if f.From == topology.FromAdmins {
						continue
					}
					id = fmt.Sprintf("%s>%s:%s", f.From, f.To, f.Service)
					if f.Service == topology.ServiceMySQL && isDB(topo, f.From) && !isApp(topo, f.From) {
						id = fmt.Sprintf("%s>%s:replication", f.From, f.To)
					}
				}
				if !edges[id] {
					t.Errorf("flow %s -> %s (%s) is not drawn (%s)", f.From, f.To, f.Service, id)
				}
			}
			if len(edges) == 0 {
				t.Fatal("no edges")
			}
			// The labels (68x22 pills) cover neither each other nor a box.
			type rect struct{ x, y, w, h int }
			over := func(a, b rect) bool { return a.x < b.x+b.w && b.x < a.x+a.w && a.y < b.y+b.h && b.y < a.y+a.h }
			var pills []rect
			for _, e := range d.Edges {
				if !e.Label {
					continue
				}
				p := rect{e.LX - 34, e.LY - 11, 68, 22}
				for _, q := range pills {
					if over(p, q) {
						t.Errorf("the label of %s covers another", e.ID)
					}
				}
				for _, b := range d.Servers {
					if over(p, rect{b.X, b.Y, b.W, b.H}) {
						t.Errorf("the label of %s covers %s", e.ID, b.Name)
					}
				}
				pills = append(pills, p)
			}
			if len(pills) == 0 {
				t.Error("no edge carries a label")
			}
		})
	}
}

func TestTheDashboardFlowIsOnlyForAdmins(t *testing.T) {
	topo, _ := topology.Preset("ha")
	var got []topology.Flow
	for _, f := range topo.Flows() {
		if f.Service == topology.ServiceDashboard {
			got = append(got, f)
		}
	}
	if len(got) != 1 || got[0].From != topology.FromAdmins || got[0].To != "monitor-1" || got[0].Port != topo.Ports.Dashboard {
		t.Errorf("dashboard flows: %+v", got)
	}
	off := *topo
	no := false
	off.Monitoring.Enabled = &no
	for _, f := range off.Flows() {
		if f.Service == topology.ServiceDashboard {
			t.Errorf("monitoring off, yet a dashboard flow: %+v", f)
		}
	}
}
