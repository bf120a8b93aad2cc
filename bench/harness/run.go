package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rampart-dev/rampart/internal/metrics"
)

// Options configure one benchmark run.
type Options struct {
	Out         string        // directory for results, configs, logs and certificates
	Duration    time.Duration // of one measured run
	Warmup      time.Duration // of the unmeasured run each peer gets first
	Rounds      int           // every scenario runs against every peer once per round
	Threads     int           // wrk -t
	Connections int           // wrk -c
	// HandshakeClients is how many openssl s_time processes load a peer at
	// once in the full-handshake scenario (each makes one connection at a
	// time).
	HandshakeClients int
	// Backends is the backends' kind: BackendsGo (the default when empty)
	// or BackendsNginx.
	Backends  string
	Peers     []string // third-party peers to include; nil means all
	Scenarios []string // scenarios to run; nil means all
	// Profile takes a CPU profile of rampart's lb in every scenario it leads,
	// in extra runs after the measured ones.
	Profile bool
	// LBLoops, when positive, runs every rampart peer's lb on that many
	// event loops (lb.Config.EventLoops) instead of a goroutine per
	// connection.
	LBLoops int
	// Control adds twins: a second HAProxy (PeerHAProxyControl) to the
	// keep-alive scenario and a second plain rampart lb
	// (PeerRampartControl) to reencrypt and monitoring, each identical to
	// its original. The goals then show how far apart two identical
	// proxies come out in the same run.
	Control bool
	Self    string    // this program, which also runs the backends and the lb
	Command string    // how the benchmark was invoked, for the record
	Stdout  io.Writer // progress and the table
}

// Defaults for Options, and for --quick.
const (
	DefaultDuration    = 10 * time.Second
	DefaultWarmup      = 3 * time.Second
	DefaultRounds      = 3
	DefaultThreads     = 2
	DefaultConnections = 64
	DefaultHandshakers = 8

	QuickDuration = 2 * time.Second
	QuickWarmup   = time.Second
	QuickRounds   = 1
)

func (o *Options) check() error {
	if o.Duration < time.Second {
		return fmt.Errorf("duration %v: at least 1s", o.Duration)
	}
	if o.Rounds < 1 {
		return fmt.Errorf("rounds %d: at least 1", o.Rounds)
	}
	if o.Threads < 1 || o.Connections < o.Threads {
		return fmt.Errorf("%d connections over %d threads: wrk needs at least one connection per thread", o.Connections, o.Threads)
	}
	if o.HandshakeClients < 1 {
		return fmt.Errorf("handshake clients %d: at least 1", o.HandshakeClients)
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.LBLoops < 0 {
		return fmt.Errorf("--lb-loops %d: want 0 (a goroutine per connection) or a number of loops", o.LBLoops)
	}
	switch o.Backends {
	case "":
		o.Backends = BackendsGo
	case BackendsGo, BackendsNginx:
	default:
		return fmt.Errorf("unknown backends %q (want %s or %s)", o.Backends, BackendsGo, BackendsNginx)
	}
	if o.Peers == nil {
		o.Peers = ThirdParty
	}
	for _, p := range o.Peers {
		if !slices.Contains(ThirdParty, p) {
			return fmt.Errorf("unknown peer %q (want %s)", p, strings.Join(ThirdParty, ", "))
		}
	}
	return nil
}

// candidates are the peers the options allow, before the scenarios pick.
// With Control, a twin joins when its original does.
func (o *Options) candidates() []string {
	out := append([]string(nil), o.Peers...)
	if o.Control {
		for _, c := range controlPeers {
			if orig := twinOf[c]; slices.Contains(o.Peers, orig) || slices.Contains(rampartPeers, orig) {
				out = append(out, c)
			}
		}
	}
	return append(out, rampartPeers...)
}

// peer is one running load balancer under test.
type peer struct {
	name    string
	addr    string // HTTPS host:port
	pprof   string // rampart only, with Options.Profile
	proto   string // what the backends must see: http, or https for mTLS
	version string
	proc    *proc
	// scraper reads the monitored lb's /metrics (its admin endpoint) every
	// ScrapeInterval while the benchmark runs; nil for every other peer.
	scraper *Scraper
}

// bench is the state of one Run.
type bench struct {
	o        Options
	wrk      string
	openssl  string
	gnuplot  string // empty: no chart
	certs    Certs
	procs    []*proc
	peers    map[string]*peer
	used     map[string]bool // the peers the selected scenarios load
	logDir   string
	versions map[string]string
	// stopScrapes ends the scrapers' loops; scrapes waits for them.
	stopScrapes context.CancelFunc
	scrapes     sync.WaitGroup
}

// Run starts the backends and every peer, checks them, runs the scenarios
// interleaved and repeated, and writes the results into o.Out. It stops
// every process it started before returning, whatever happened.
func Run(ctx context.Context, o Options) (err error) {
	if err := o.check(); err != nil {
		return err
	}
	b := &bench{o: o, peers: map[string]*peer{}, used: map[string]bool{}, versions: map[string]string{}}
	defer b.stopAll()

	enabled := map[string]bool{}
	for _, p := range o.candidates() {
		enabled[p] = true
	}
	scenarios, err := selectScenarios(o.Scenarios, enabled)
	if err != nil {
		return err
	}
	if o.Backends == BackendsNginx {
		if scenarios, err = withoutReencrypt(scenarios, o.Scenarios == nil); err != nil {
			return err
		}
		if o.Scenarios == nil {
			fmt.Fprintln(o.Stdout, "bench: reencrypt left out: nginx backends have no mutual-TLS listener")
		}
	}
	// Only the peers a selected scenario loads are started, so a run of one
	// scenario shares the machine with nothing else.
	for _, s := range scenarios {
		for _, p := range s.Peers {
			b.used[p] = true
		}
	}
	if err := b.findTools(); err != nil {
		return err
	}
	b.logDir = filepath.Join(o.Out, "logs")
	for _, d := range []string{o.Out, b.logDir, filepath.Join(o.Out, "conf")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if b.certs, err = PreparePKI(filepath.Join(o.Out, "pki")); err != nil {
		return err
	}
	meta := b.machine() + ", " + busyBefore(time.Second)
	fmt.Fprintf(o.Stdout, "bench: %s\nbench: results in %s\n", meta, o.Out)

	backends, tlsBackends, err := b.startBackends(ctx)
	if err != nil {
		return err
	}
	if err := b.startPeers(ctx, backends, tlsBackends); err != nil {
		return err
	}
	var checks []Check
	for _, name := range b.order() {
		p := b.peers[name]
		c, err := preflight(ctx, name, p.addr, b.certs.CACert, p.proto)
		if err != nil {
			return fmt.Errorf("%s preflight: %w (log: %s)", name, err, p.proc.log)
		}
		checks = append(checks, c)
		fmt.Fprintf(o.Stdout, "bench: %-17s %-8s ok: %s, resumes TLS sessions: %v, backends over %s, round robin\n", name, p.version, c.TLS, c.Resumes, c.Proto)
	}

	for _, name := range b.order() {
		fmt.Fprintf(o.Stdout, "bench: warming up %s (%v)\n", name, o.Warmup)
		if _, _, err := b.load(ctx, scenarios[0], b.peers[name], o.Warmup); err != nil {
			return err
		}
	}

	var runs []Sample
	total := 0
	for _, s := range scenarios {
		total += len(s.Peers) * o.Rounds
	}
	n := 0
	started := time.Now()
	for round := range o.Rounds {
		for si, s := range scenarios {
			for _, name := range rotate(s.Peers, round+si) {
				n++
				m, out, err := b.load(ctx, s, b.peers[name], o.Duration)
				if err != nil {
					return err
				}
				writeLog(filepath.Join(b.logDir, fmt.Sprintf("load-r%d-%s-%s.txt", round+1, s.Name, name)), out)
				runs = append(runs, Sample{Round: round + 1, Scenario: s.Name, Peer: name, Measurement: m})
				eta := time.Duration(float64(time.Since(started)) / float64(n) * float64(total-n)).Round(time.Second)
				fmt.Fprintf(o.Stdout, "[%2d/%d] round %d %-10s %-17s %9.0f req/s  p50 %-8s p99 %-8s CPU/req %-7s idle %-5s errors %d  (eta %v)\n",
					n, total, round+1, s.Name, name, m.RPS, human(m.P50), human(m.P99), human(m.CPUPerRequest()), percent(m.IdleShare()), m.Errors, eta)
			}
		}
	}

	if o.Profile {
		if err := b.profile(ctx, scenarios); err != nil {
			return err
		}
	}
	return b.report(scenarios, runs, checks, meta)
}

// findTools looks up the load generators and the enabled peers.
func (b *bench) findTools() error {
	need := map[string]*string{"wrk": &b.wrk, "openssl": &b.openssl}
	for bin, dst := range need {
		p, err := exec.LookPath(bin)
		if err != nil {
			return fmt.Errorf("%s not found in PATH: bench/run installs it (apt-get install %s)", bin, bin)
		}
		*dst = p
	}
	for _, name := range b.o.candidates() {
		tp, ok := thirdParties[name]
		if !ok {
			continue
		}
		p, err := exec.LookPath(tp.bin)
		if err != nil {
			return fmt.Errorf("%s not found in PATH: bench/run installs it, or leave it out with --peers", tp.bin)
		}
		b.versions[name] = toolVersion(p, tp.version...)
	}
	b.gnuplot, _ = exec.LookPath("gnuplot")
	b.versions["wrk"] = toolVersion(b.wrk, "--version")
	b.versions["openssl"] = toolVersion(b.openssl, "version")
	b.versions[PeerRampart] = rampartVersion()
	return nil
}

// rampartVersion names the code under test: the commit this program was
// built from (with "+dirty" for uncommitted changes) and the Go release.
// bench/run passes the commit in RAMPART_BENCH_REVISION, since a build with
// -buildvcs=false records none.
func rampartVersion() string {
	v := runtime.Version()
	if rev := os.Getenv("RAMPART_BENCH_REVISION"); rev != "" {
		return rev + " " + v
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if len(rev) > 7 {
		rev = rev[:7]
	}
	if rev == "" {
		return v
	}
	return rev + dirty + " " + v
}

// order lists the running peers in report order.
func (b *bench) order() []string {
	var out []string
	for _, n := range slices.Concat(ThirdParty, controlPeers, rampartPeers) {
		if _, ok := b.peers[n]; ok {
			out = append(out, n)
		}
	}
	return out
}

// freePorts reserves n distinct loopback ports. Another program may take one
// between this and the child's bind; the child then fails with a clear
// error and the run stops.
func freePorts(n int) ([]string, error) {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("reserve a loopback port: %w", err)
		}
		lns = append(lns, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}

func (b *bench) start(name string, env []string, bin string, args ...string) (*proc, error) {
	p, err := startProc(name, filepath.Join(b.logDir, name+".log"), env, bin, args...)
	if err != nil {
		return nil, err
	}
	b.procs = append(b.procs, p)
	return p, nil
}

// stopAll stops the scrapers, then every child, the peers before the
// backends.
func (b *bench) stopAll() {
	if b.stopScrapes != nil {
		b.stopScrapes()
	}
	b.scrapes.Wait()
	for i := len(b.procs) - 1; i >= 0; i-- {
		b.procs[i].stop(5 * time.Second)
	}
	b.procs = nil
}

func alive(p *proc) func() error {
	return func() error {
		if ended, err := p.exited(); ended {
			return fmt.Errorf("%s stopped (%v); see %s", p.name, err, p.log)
		}
		return nil
	}
}

// startBackends starts the two identical backends, each with a plain and an
// mTLS listener, and waits for them.
// With nginx backends there is no mTLS listener and mtls is nil.
func (b *bench) startBackends(ctx context.Context) (plain, mtls []string, err error) {
	addrs, err := freePorts(2 * len(BackendNames))
	if err != nil {
		return nil, nil, err
	}
	c := &http.Client{Timeout: time.Second}
	for i, name := range BackendNames {
		plainAddr, tlsAddr := addrs[2*i], addrs[2*i+1]
		var p *proc
		if b.o.Backends == BackendsNginx {
			var conf string
			if conf, err = writeNginxBackend(name, plainAddr, filepath.Join(b.o.Out, "conf", "backend-"+name)); err != nil {
				return nil, nil, err
			}
			bin, lerr := exec.LookPath("nginx")
			if lerr != nil {
				return nil, nil, fmt.Errorf("--backends nginx: %w (bench/run installs it)", lerr)
			}
			p, err = b.start(name, nil, bin, "-p", filepath.Dir(conf), "-c", conf)
			tlsAddr = ""
		} else {
			p, err = b.start(name, nil, b.o.Self, "backend", "--name", name, "--listen", plainAddr,
				"--tls-listen", tlsAddr, "--pki", b.certs.Dir, "--allow", LBName)
		}
		if err != nil {
			return nil, nil, err
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = waitReady(wctx, c, "http://"+plainAddr+PathHealth, alive(p))
		cancel()
		if err != nil {
			return nil, nil, fmt.Errorf("backend %s: %w", name, err)
		}
		plain = append(plain, plainAddr)
		if tlsAddr != "" {
			mtls = append(mtls, tlsAddr)
		}
	}
	return plain, mtls, nil
}

// startPeers configures and starts every peer and waits until each answers
// through to a backend.
func (b *bench) startPeers(ctx context.Context, backends, tlsBackends []string) error {
	var names []string
	for _, name := range b.o.candidates() {
		if b.used[name] {
			names = append(names, name)
		}
	}
	// Three ports each: HTTPS, pprof and the monitored lb's admin endpoint.
	addrs, err := freePorts(3 * len(names))
	if err != nil {
		return err
	}
	var admins []*peer
	for i, name := range names {
		p := &peer{name: name, addr: addrs[3*i], proto: "http", version: b.versions[name]}
		switch name {
		case PeerRampart, PeerRampartControl, PeerRampartReencrypt, PeerRampartMonitored:
			ups := backends
			args := []string{"lb", "--listen", p.addr, "--pki", b.certs.Dir}
			p.version = b.versions[PeerRampart]
			switch name {
			case PeerRampartReencrypt:
				ups, p.proto = tlsBackends, "https"
				args = append(args, "--reencrypt")
			case PeerRampartMonitored:
				admin := addrs[3*i+2]
				args = append(args, "--monitored", "--admin", admin)
				if p.scraper, err = NewScraper(b.certs.Dir, admin); err != nil {
					return err
				}
				admins = append(admins, p)
			}
			for _, u := range ups {
				args = append(args, "--upstream", u)
			}
			if b.o.LBLoops > 0 {
				args = append(args, "--loops", strconv.Itoa(b.o.LBLoops))
			}
			if b.o.Profile {
				p.pprof = addrs[3*i+1]
				args = append(args, "--pprof", p.pprof)
			}
			if p.proc, err = b.start(name, nil, b.o.Self, args...); err != nil {
				return err
			}
		default:
			tp := thirdParties[name]
			pc := peerConf{Listen: p.addr, Backends: backends, Certs: b.certs, Dir: filepath.Join(b.o.Out, "conf", name)}
			conf, err := tp.writeConfig(pc)
			if err != nil {
				return err
			}
			var env []string
			if tp.env != nil {
				env = tp.env(pc.Dir)
			}
			bin, _ := exec.LookPath(tp.bin)
			if p.proc, err = b.start(name, env, bin, tp.args(conf)...); err != nil {
				return err
			}
		}
		b.peers[name] = p
	}
	c, err := client(b.certs.CACert, false, nil)
	if err != nil {
		return err
	}
	for _, name := range b.order() {
		p := b.peers[name]
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := waitReady(wctx, c, "https://"+p.addr+PathSmall, alive(p.proc))
		cancel()
		if err != nil {
			return fmt.Errorf("%s on %s: %w", name, p.addr, err)
		}
	}
	return b.startScrapes(ctx, admins)
}

// startScrapes waits until each monitored peer's admin endpoint answers a
// scrape, then scrapes it every ScrapeInterval until the benchmark ends,
// as the collector would: during its own runs, the others' and the
// pauses between.
func (b *bench) startScrapes(ctx context.Context, peers []*peer) error {
	if len(peers) == 0 {
		return nil
	}
	sctx, cancel := context.WithCancel(ctx)
	b.stopScrapes = cancel
	for _, p := range peers {
		var err error
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			rctx, rcancel := context.WithTimeout(ctx, time.Second)
			_, err = p.scraper.Requests(rctx)
			rcancel()
			if err == nil || time.Now().After(deadline) {
				break
			}
			if dead := alive(p.proc)(); dead != nil {
				return dead
			}
		}
		if err != nil {
			return fmt.Errorf("%s: its admin endpoint does not answer: %w (log: %s)", p.name, err, p.proc.log)
		}
		b.scrapes.Go(func() { p.scraper.Run(sctx) })
	}
	return nil
}

// load runs scenario s against p for d, and checks the peer survived it.
func (b *bench) load(ctx context.Context, s Scenario, p *peer, d time.Duration) (Measurement, string, error) {
	var (
		m   Measurement
		out string
		err error
	)
	var counted float64
	if p.scraper != nil {
		if counted, err = p.scraper.Requests(ctx); err != nil {
			return m, "", fmt.Errorf("%s: %w", p.name, err)
		}
	}
	pgid := p.proc.cmd.Process.Pid
	cpu := groupCPU(pgid)
	idle, busy := machineTime()
	if s.Handshakes {
		m, out, err = runStime(ctx, b.openssl, stimeArgs(p.addr, s.Path, d), b.o.HandshakeClients)
	} else {
		m, out, err = runWrk(ctx, b.wrk, wrkArgs("https://"+p.addr+s.Path, d, b.o.Threads, b.o.Connections, s.Close))
	}
	m.CPU = groupCPU(pgid) - cpu
	idle1, busy1 := machineTime()
	m.MachineIdle, m.MachineBusy = idle1-idle, busy1-busy
	if dead := alive(p.proc)(); dead != nil {
		return m, out, dead
	}
	if err != nil {
		return m, out, fmt.Errorf("%s against %s: %w", s.Name, p.name, err)
	}
	if p.scraper != nil {
		line, err := checkCounted(ctx, p, counted, m)
		out += line
		if err != nil {
			return m, out, err
		}
	}
	return m, out, nil
}

// checkCounted holds the monitored lb to its word: after the run, its
// request counter must have grown by at least what the load tool completed
// (by a few more when requests were in flight as the tool stopped). Less
// means requests went uncounted, and the run measured an lb without
// monitoring.
func checkCounted(ctx context.Context, p *peer, before float64, m Measurement) (string, error) {
	after, err := p.scraper.Requests(ctx)
	if err != nil {
		return "", fmt.Errorf("%s: %w", p.name, err)
	}
	line := fmt.Sprintf("\nmonitoring: %s counted %.0f requests in %s; the load tool completed %.0f\n", p.name, after-before, metrics.HTTPRequests, m.Requests)
	if after-before < m.Requests {
		return line, fmt.Errorf("%s counted %.0f requests in %s where the load tool completed %.0f: its monitoring is not on the request path",
			p.name, after-before, metrics.HTTPRequests, m.Requests)
	}
	return line, nil
}

// profile repeats each scenario rampart leads once more while taking a CPU
// profile of its lb; these runs are not in the table.
func (b *bench) profile(ctx context.Context, scenarios []Scenario) error {
	dir := filepath.Join(b.o.Out, "profiles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	goBin, _ := exec.LookPath("go")
	secs := max(1, int(b.o.Duration/time.Second)-1)
	for _, s := range scenarios {
		p := b.peers[s.Base]
		if p == nil || p.pprof == "" {
			continue
		}
		file := filepath.Join(dir, s.Name+"-"+p.name+".pprof")
		got := make(chan error, 1)
		go func() {
			got <- fetch(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", p.pprof, secs), file)
		}()
		m, _, err := b.load(ctx, s, p, b.o.Duration)
		if err != nil {
			return err
		}
		if err := <-got; err != nil {
			return fmt.Errorf("profile %s: %w", s.Name, err)
		}
		line := fmt.Sprintf("bench: profiled %s on %s (%.0f req/s while profiling): %s", p.name, s.Name, m.RPS, file)
		if goBin != "" {
			top, err := exec.Command(goBin, "tool", "pprof", "-top", "-nodecount=40", file).CombinedOutput()
			if err == nil {
				writeLog(file+".top.txt", string(top))
				line += " (top: " + file + ".top.txt)"
			}
		}
		fmt.Fprintln(b.o.Stdout, line)
	}
	return nil
}

// fetch saves url's body into file.
func fetch(ctx context.Context, url, file string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// report prints the table and the goals and writes CSV, markdown and the
// chart.
func (b *bench) report(scenarios []Scenario, runs []Sample, checks []Check, meta string) error {
	o := b.o
	sums := Summarize(scenarios, runs)
	fmt.Fprintf(o.Stdout, "\nmedian of %d round(s) of %v each; the machine is shared, so figures are noisy\n\n", o.Rounds, o.Duration)
	WriteTable(o.Stdout, scenarios, sums, false)
	goals := Goals(sums, runs)
	if len(goals) > 0 {
		fmt.Fprintln(o.Stdout)
		for _, g := range goals {
			fmt.Fprintln(o.Stdout, "goal: "+g)
		}
	}
	scrapes := b.scrapeReport()
	for _, l := range scrapes {
		fmt.Fprintln(o.Stdout, "bench: "+l)
	}

	var errs []error
	errs = append(errs, WriteRunsCSV(filepath.Join(o.Out, "runs.csv"), runs))
	errs = append(errs, WriteSummaryCSV(filepath.Join(o.Out, "summary.csv"), scenarios, sums))

	var md strings.Builder
	fmt.Fprintf(&md, "- machine: %s\n- command: `%s`\n", meta, o.Command)
	fmt.Fprintf(&md, "- load: wrk %s (-t%d -c%d, HTTP/1.1), openssl %s s_time -new (%d processes) for full handshakes; %d round(s) x %v, interleaved; medians\n",
		b.versions["wrk"], o.Threads, o.Connections, b.versions["openssl"], o.HandshakeClients, o.Rounds, o.Duration)
	var vs []string
	for _, name := range b.order() {
		if _, twin := twinOf[name]; !twin && name != PeerRampartReencrypt && name != PeerRampartMonitored {
			vs = append(vs, name+" "+b.versions[name])
		}
	}
	fmt.Fprintf(&md, "- peers: %s\n", strings.Join(vs, ", "))
	for _, c := range checks {
		fmt.Fprintf(&md, "- %s: %s, resumes sessions: %v, backends over %s\n", c.Peer, c.TLS, c.Resumes, c.Proto)
	}
	md.WriteString("\n")
	WriteTable(&md, scenarios, sums, true)
	if len(goals) > 0 {
		md.WriteString("\n")
		for _, g := range goals {
			md.WriteString("- " + g + "\n")
		}
	}
	for _, l := range scrapes {
		md.WriteString("- " + l + "\n")
	}
	errs = append(errs, os.WriteFile(filepath.Join(o.Out, "summary.md"), []byte(md.String()), 0o644))

	png := filepath.Join(o.Out, "chart.png")
	if b.gnuplot == "" {
		fmt.Fprintln(o.Stdout, "bench: gnuplot not found, no chart (bench/run installs gnuplot-nox)")
	} else {
		sub := fmt.Sprintf("%d round(s) x %v, wrk -t%d -c%d; %s", o.Rounds, o.Duration, o.Threads, o.Connections, meta)
		if err := DrawChart(b.gnuplot, filepath.Join(o.Out, "chart.gp"), png, sub, scenarios, sums); err != nil {
			errs = append(errs, err)
		}
	}
	fmt.Fprintf(o.Stdout, "\nbench: wrote %s, %s, %s and %s\n", filepath.Join(o.Out, "runs.csv"), filepath.Join(o.Out, "summary.csv"), filepath.Join(o.Out, "summary.md"), png)
	return errors.Join(errs...)
}

// scrapeReport says how each monitored peer was scraped, so the reader can
// tell the monitoring figures came with a collector's load.
func (b *bench) scrapeReport() []string {
	var out []string
	for _, name := range b.order() {
		p := b.peers[name]
		if p.scraper == nil {
			continue
		}
		st := p.scraper.Stats()
		l := fmt.Sprintf("%s: /metrics scraped %d times over mutual TLS, every %v, %d failed; %.1f KiB per scrape, median %s; every run's requests were counted in %s",
			name, st.OK+st.Failed, ScrapeInterval, st.Failed, float64(st.Bytes)/1024, human(st.Median), metrics.HTTPRequests)
		if st.LastErr != nil {
			l += fmt.Sprintf(" (last failure: %v)", st.LastErr)
		}
		out = append(out, l)
	}
	return out
}

// machine describes where the benchmark runs.
func (b *bench) machine() string {
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	osName := runtime.GOOS
	if data, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
				osName = strings.Trim(v, `"`)
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	load, _ := os.ReadFile("/proc/loadavg")
	loadF := strings.Fields(string(load))
	l1 := "?"
	if len(loadF) > 0 {
		l1 = loadF[0]
	}
	return fmt.Sprintf("%s, %d CPUs, %s, Linux %s, %s, load average %s at start",
		cpu, runtime.NumCPU(), osName, strings.TrimSpace(string(kernel)), runtime.Version(), l1) + memory() + b.backendKind()
}

// backendKind says which backends the peers proxy to, and how rampart's lb
// serves when not as by default.
func (b *bench) backendKind() string {
	loops := ""
	if b.o.LBLoops > 0 {
		loops = fmt.Sprintf(", rampart's lb on %d event loops", b.o.LBLoops)
	}
	if b.o.Backends == BackendsNginx {
		return ", backends: nginx " + toolVersion("nginx", "-v") + ", one worker each" + loops
	}
	return ", backends: rampart-bench backend (Go net/http)" + loops
}

func memory() string {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			f := strings.Fields(v)
			if kb, err := strconv.ParseFloat(f[0], 64); err == nil {
				return fmt.Sprintf(", %.0f GiB RAM", kb/(1<<20))
			}
		}
	}
	return ""
}

func writeLog(path, s string) { os.WriteFile(path, []byte(s), 0o644) }
