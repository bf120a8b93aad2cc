package monitor

import (
	"fmt"
	"slices"

	"github.com/rampart-dev/rampart/internal/topology"
)

// Diagram is the site drawn the way the seed draws it, computed from the
// topology: clients on the left, then the load balancers, the servers that
// hold web and app roles, the database servers, and the monitor beneath,
// with an edge for every flow between them. The dashboard draws it and
// brings it to life with live figures.
type Diagram struct {
	Width   int    `json:"width"`
	Height  int    `json:"height"`
	Domain  string `json:"domain"`
	Policy  string `json:"policy"`
	Clients Box    `json:"clients"`
	Servers []Box  `json:"servers"`
	Edges   []Edge `json:"edges"`
	// Firewall is whether every server draws its firewall.
	Firewall bool `json:"firewall"`
}

// Box is one server, or the clients.
type Box struct {
	Name    string   `json:"name"`
	Address string   `json:"address,omitempty"`
	Roles   []string `json:"roles,omitempty"`
	X       int      `json:"x"`
	Y       int      `json:"y"`
	W       int      `json:"w"`
	H       int      `json:"h"`
	// Rows are the y of each role's row inside the box, by role.
	Rows map[string]int `json:"rows,omitempty"`
}

// Edge is the flows from one box to another for one kind of traffic.
type Edge struct {
	ID         string `json:"id"`
	From       string `json:"from"`
	To         string `json:"to"`
	Service    string `json:"service"`
	Port       int    `json:"port"`
	Protection string `json:"protection"`
	// Path is the SVG path the edge is drawn along; LX, LY where its label
	// goes.
	Path string `json:"path"`
	LX   int    `json:"lx"`
	LY   int    `json:"ly"`
	// Self marks a flow between two roles of the same server.
	Self bool `json:"self,omitempty"`
	// Label says whether the edge carries a figure of its own: the flows
	// whose traffic the caller measures (clients -> lb, lb -> web,
	// web -> app between servers).
	Label bool `json:"label,omitempty"`
}

// Geometry, in SVG user units.
const (
	boxW      = 230
	boxHead   = 46
	roleRow   = 30
	boxPad    = 12
	colGap    = 150
	rowGap    = 36
	clientsW  = 120
	clientsH  = 96
	marginX   = 30
	marginY   = 40
	monitorGp = 90
)

// column is where a server's box goes: the tier of the first role traffic
// meets on it.
func column(s topology.Server) int {
	for i, r := range []topology.Role{topology.RoleLB, topology.RoleWeb, topology.RoleApp, topology.RoleDB} {
		if s.Has(r) {
			return i + 1
		}
	}
	return -1 // monitor only: the row beneath
}

// drawnRoles are the roles a box lists, in traffic order; the monitor role
// is drawn by the box's place, beneath the others.
func drawnRoles(s topology.Server) []string {
	var out []string
	for _, r := range topology.Roles {
		if s.Has(r) && (r != topology.RoleMonitor || len(s.Roles) == 1) {
			out = append(out, string(r))
		}
	}
	return out
}

// Layout computes the diagram of t.
func Layout(t *topology.Topology) Diagram {
	d := Diagram{Domain: t.Site.Domain, Policy: string(t.TLS.Policy), Firewall: t.FirewallEnabled()}
	cols := map[int][]topology.Server{}
	var below []topology.Server
	for _, s := range t.Servers {
		if c := column(s); c > 0 {
			cols[c] = append(cols[c], s)
		} else {
			below = append(below, s)
		}
	}
	var used []int
	for c := 1; c <= 4; c++ {
		if len(cols[c]) > 0 {
			used = append(used, c)
		}
	}
	height := func(s topology.Server) int { return boxHead + roleRow*len(drawnRoles(s)) + boxPad }
	colHeight := func(ss []topology.Server) int {
		h := 0
		for i, s := range ss {
			if i > 0 {
				h += rowGap
			}
			h += height(s)
		}
		return h
	}
	tallest := clientsH
	for _, c := range used {
		tallest = max(tallest, colHeight(cols[c]))
	}
	boxes := map[string]*Box{}
	place := func(s topology.Server, x, y int) {
		b := Box{Name: s.Name, Address: s.Address, Roles: drawnRoles(s), X: x, Y: y, W: boxW, H: height(s), Rows: map[string]int{}}
		for i, r := range b.Roles {
			b.Rows[r] = y + boxHead + roleRow*i + roleRow/2
		}
		d.Servers = append(d.Servers, b)
	}
	x := marginX + clientsW + colGap
	for _, c := range used {
		y := marginY + (tallest-colHeight(cols[c]))/2
		for _, s := range cols[c] {
			place(s, x, y)
			y += height(s) + rowGap
		}
		x += boxW + colGap
	}
	width := x - colGap + marginX + 150 // room for arcs between boxes of one column
	d.Clients = Box{Name: "clients", X: marginX, Y: marginY + (tallest-clientsH)/2, W: clientsW, H: clientsH}
	bottom := marginY + tallest
	if len(below) > 0 {
		rowW := len(below)*boxW + (len(below)-1)*colGap
		bx := max(marginX, (width-rowW)/2)
		for _, s := range below {
			place(s, bx, bottom+monitorGp)
			bx += boxW + colGap
		}
		for _, s := range below {
			bottom = max(bottom, bottom+monitorGp+height(s))
		}
	}
	d.Width, d.Height = width, bottom+marginY
	for i := range d.Servers {
		boxes[d.Servers[i].Name] = &d.Servers[i]
	}
	d.Edges = edges(t, &d, boxes)
	placeLabels(d.Edges, boxes)
	return d
}

// placeLabels puts each measured edge's label beside the row it arrives
// at, stacked in the order the edges arrive from top to bottom, so the
// labels of a busy row never cover each other: on the left of the target
// for a flow from an earlier column, on the right for an arc within one.
func placeLabels(es []Edge, boxes map[string]*Box) {
	type row struct {
		box  string
		y    int
		arcs bool
	}
	groups := map[row][]int{}
	var order []row
	for i := range es {
		e := &es[i]
		switch topology.Service(e.Service) {
		case topology.ServiceHTTPS, topology.ServiceWeb, topology.ServiceApp:
		default:
			continue
		}
		if e.Self {
			continue
		}
		dst, src := boxes[e.To], boxes[e.From]
		if dst == nil {
			continue
		}
		e.Label = true
		r := row{box: e.To, y: dst.Rows[edgeRoles[topology.Service(e.Service)][1]], arcs: src != nil && src.X == dst.X}
		if _, ok := groups[r]; !ok {
			order = append(order, r)
		}
		groups[r] = append(groups[r], i)
	}
	srcY := func(e Edge) int {
		if b := boxes[e.From]; b != nil {
			return b.Y
		}
		return 0
	}
	for _, r := range order {
		idx := groups[r]
		slices.SortStableFunc(idx, func(a, b int) int { return srcY(es[a]) - srcY(es[b]) })
		dst := boxes[r.box]
		for k, i := range idx {
			es[i].LX = dst.X - 46
			if r.arcs {
				es[i].LX = dst.X + dst.W + 46
			}
			es[i].LY = r.y + (2*k-len(idx)+1)*12
		}
	}
}

// edgeRoles are the roles at each end of a service's flows.
var edgeRoles = map[topology.Service][2]string{
	topology.ServiceHTTPS:  {"", "lb"},
	topology.ServiceWeb:    {"lb", "web"},
	topology.ServiceApp:    {"web", "app"},
	topology.ServiceMySQL:  {"app", "db"},
	topology.ServiceGalera: {"db", "db"},
	topology.ServiceAdmin:  {"monitor", ""},
}

// edges draws one edge per (from, to, service) among the flows, folding the
// plain-HTTP redirect into HTTPS and Galera's three services, both ways,
// into one edge per pair of database servers. Admins' flows are not drawn:
// they come from outside the site.
func edges(t *topology.Topology, d *Diagram, boxes map[string]*Box) []Edge {
	var out []Edge
	seen := map[string]bool{}
	arcs := map[int]int{} // arcs drawn beside each column, to space them
	for _, f := range t.Flows() {
		svc := f.Service
		switch svc {
		case topology.ServiceHTTP, topology.ServiceSSH, topology.ServiceDashboard:
			continue
		case topology.ServiceIST, topology.ServiceSST:
			continue // drawn with galera
		}
		if f.From == topology.FromAdmins {
			continue
		}
		from, to := f.From, f.To
		if svc == topology.ServiceGalera && to < from {
			from, to = to, from
		}
		// A replica's flow to its primary. On a server that is also an app
		// server, the topology folds it into the app -> db flow.
		kind := string(svc)
		if svc == topology.ServiceMySQL && isDB(t, f.From) && !isApp(t, f.From) {
			kind = "replication"
		}
		id := fmt.Sprintf("%s>%s:%s", from, to, kind)
		if seen[id] {
			continue
		}
		seen[id] = true
		e := Edge{ID: id, From: from, To: to, Service: kind, Port: f.Port, Protection: string(f.Protection)}
		roles := edgeRoles[svc]
		if kind == "replication" {
			roles = [2]string{"db", "db"}
		}
		if from == topology.FromClients {
			dst := boxes[to]
			x1, y1 := d.Clients.X+d.Clients.W, d.Clients.Y+d.Clients.H/2
			x2, y2 := dst.X, dst.Rows[roles[1]]
			e.Path, e.LX, e.LY = curve(x1, y1, x2, y2)
			out = append(out, e)
			continue
		}
		src, dst := boxes[from], boxes[to]
		if src == nil || dst == nil {
			continue
		}
		switch {
		case svc == topology.ServiceAdmin:
			x1, y1 := src.X+src.W/2, src.Y
			x2, y2 := dst.X+dst.W/2, dst.Y+dst.H
			if dst.Y > src.Y {
				y1, y2 = src.Y+src.H, dst.Y
			}
			e.Path = fmt.Sprintf("M%d,%d C%d,%d %d,%d %d,%d", x1, y1, x1, (y1+y2)/2, x2, (y1+y2)/2, x2, y2)
			e.LX, e.LY = (x1+x2)/2, (y1+y2)/2
		case from == to:
			e.Self = true
			ya, yb := src.Rows[roles[0]], src.Rows[roles[1]]
			x := src.X + 14
			e.Path = fmt.Sprintf("M%d,%d L%d,%d", x, ya+9, x, yb-9)
			e.LX, e.LY = x, (ya+yb)/2
		case src.X == dst.X:
			// Both in one column: an arc on the right of the column.
			ya, yb := src.Rows[roles[0]], dst.Rows[roles[1]]
			n := arcs[src.X]
			arcs[src.X]++
			right := src.X + src.W
			bulge := right + 72 + 24*(n%4)
			e.Path = fmt.Sprintf("M%d,%d C%d,%d %d,%d %d,%d", right, ya, bulge, ya, bulge, yb, right, yb)
			// The curve's apex, where a cubic with these control points is
			// at t=1/2; arcs of one column alternate above and below it.
			e.LX, e.LY = (right+3*bulge)/4, (ya+yb)/2+14*(1-2*(n%2))
		default:
			x1, y1 := src.X+src.W, src.Rows[roles[0]]
			x2, y2 := dst.X, dst.Rows[roles[1]]
			if x2 < x1 { // a flow back to an earlier column
				x1, x2 = src.X, dst.X+dst.W
			}
			e.Path, e.LX, e.LY = curve(x1, y1, x2, y2)
		}
		out = append(out, e)
	}
	return out
}

// curve is a horizontal S-curve from (x1,y1) to (x2,y2), and the point
// where its label goes.
func curve(x1, y1, x2, y2 int) (string, int, int) {
	mx := (x1 + x2) / 2
	return fmt.Sprintf("M%d,%d C%d,%d %d,%d %d,%d", x1, y1, mx, y1, mx, y2, x2, y2), mx, (y1 + y2) / 2
}

func isDB(t *topology.Topology, name string) bool {
	s, ok := t.Server(name)
	return ok && s.Has(topology.RoleDB)
}

func isApp(t *topology.Topology, name string) bool {
	s, ok := t.Server(name)
	return ok && s.Has(topology.RoleApp)
}
