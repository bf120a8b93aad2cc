// Command rampart-bench runs rampart's lb beside HAProxy, nginx and Caddy
// and reports the ratios; bench/run installs what it needs and runs it.
//
//	rampart-bench run [flags]      the benchmark (see bench/README.md)
//	rampart-bench backend [flags]  one of the two backends (started by run)
//	rampart-bench lb [flags]       rampart's lb over the backends, with or without
//	                               monitoring (started by run)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rampart-dev/rampart/bench/harness"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "run":
		err = run(ctx, os.Args[2:])
	case "backend":
		err = backend(ctx, os.Args[2:])
	case "lb":
		err = lb(ctx, os.Args[2:])
	default:
		usage()
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "rampart-bench %s: %v\n", os.Args[1], err)
		stop()
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: rampart-bench run|backend|lb [flags]   (run -h for the benchmark's flags)")
	os.Exit(2)
}

// list is a flag that may be repeated or given comma-separated.
type list []string

func (l *list) String() string { return strings.Join(*l, ",") }
func (l *list) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	o := harness.Options{}
	var peers, scenarios list
	quick := fs.Bool("quick", false, fmt.Sprintf("smoke run: %d round of %v, %v warm-up, unless set explicitly", harness.QuickRounds, harness.QuickDuration, harness.QuickWarmup))
	fs.StringVar(&o.Out, "out", "", "results directory (default bench-out/TIMESTAMP)")
	fs.DurationVar(&o.Duration, "duration", harness.DefaultDuration, "length of one measured run")
	fs.DurationVar(&o.Warmup, "warmup", harness.DefaultWarmup, "unmeasured warm-up per peer")
	fs.IntVar(&o.Rounds, "rounds", harness.DefaultRounds, "rounds; each runs every scenario against every peer once")
	fs.IntVar(&o.Threads, "threads", harness.DefaultThreads, "wrk threads")
	fs.IntVar(&o.Connections, "connections", harness.DefaultConnections, "wrk connections")
	fs.IntVar(&o.HandshakeClients, "handshake-clients", harness.DefaultHandshakers, "parallel openssl s_time processes in the handshake scenario")
	fs.Var(&peers, "peers", "third-party peers to include (default haproxy,nginx,caddy)")
	fs.Var(&scenarios, "scenarios", "scenarios to run (default keepalive,resume,handshake,100k,reencrypt,monitoring)")
	fs.StringVar(&o.Backends, "backends", harness.BackendsGo, "what the peers proxy to: go (rampart-bench backend, Go's net/http) or nginx (one worker each; no reencrypt)")
	fs.BoolVar(&o.Profile, "profile", false, "also take CPU profiles of rampart's lb (extra runs, not in the table)")
	fs.BoolVar(&o.Control, "control", false, "also run twins: a second HAProxy in keep-alive (with haproxy among --peers) and a second plain lb in reencrypt and monitoring, to show what noise alone makes of two identical proxies")
	fs.IntVar(&o.LBLoops, "lb-loops", 0, "run rampart's lb on this many event loops instead of a goroutine per connection (experimental)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *quick {
		if !set["duration"] {
			o.Duration = harness.QuickDuration
		}
		if !set["warmup"] {
			o.Warmup = harness.QuickWarmup
		}
		if !set["rounds"] {
			o.Rounds = harness.QuickRounds
		}
	}
	if len(peers) > 0 {
		o.Peers = peers
	}
	o.Scenarios = scenarios
	if o.Out == "" {
		o.Out = filepath.Join("bench-out", time.Now().UTC().Format("20060102T150405Z"))
	}
	out, err := filepath.Abs(o.Out)
	if err != nil {
		return err
	}
	o.Out = out
	if o.Self, err = os.Executable(); err != nil {
		return err
	}
	o.Command = "rampart-bench run " + strings.Join(args, " ")
	if c := os.Getenv("RAMPART_BENCH_COMMAND"); c != "" {
		o.Command = c // bench/run passes what the user typed
	}
	return harness.Run(ctx, o)
}

func backend(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("backend", flag.ContinueOnError)
	c := harness.BackendConfig{Domain: harness.Domain}
	var allow list
	fs.StringVar(&c.Name, "name", "web-1", "identity")
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:8081", "plain HTTP address")
	fs.StringVar(&c.TLSListen, "tls-listen", "", "mutual-TLS address (needs --pki)")
	fs.StringVar(&c.PKIDir, "pki", "", "CA directory")
	fs.Var(&allow, "allow", "identities the mTLS listener accepts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c.Allow = allow
	c.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil)).With("backend", c.Name)
	return harness.RunBackend(ctx, c)
}

func lb(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("lb", flag.ContinueOnError)
	c := harness.LBConfig{}
	var ups list
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:8443", "public HTTPS address")
	fs.Var(&ups, "upstream", "backend host:port (repeat)")
	fs.BoolVar(&c.Reencrypt, "reencrypt", false, "mutual TLS to the backends (the reencrypt policy)")
	fs.StringVar(&c.PKIDir, "pki", "", "CA directory, holding the site certificate")
	fs.StringVar(&c.PprofListen, "pprof", "", "serve net/http/pprof on this address")
	fs.BoolVar(&c.Monitored, "monitored", false, "turn the server's monitoring client on, as a node with monitoring enabled (needs --admin)")
	fs.StringVar(&c.AdminListen, "admin", "", "with --monitored: serve /metrics over mutual TLS on this address")
	fs.IntVar(&c.EventLoops, "loops", 0, "serve HTTPS/1.1 on this many event loops instead of a goroutine per connection (experimental)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.EventLoops < 0 {
		return fmt.Errorf("lb: --loops %d: want 0 (goroutines) or a number of loops", c.EventLoops)
	}
	c.Upstreams = ups
	c.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	return harness.RunLB(ctx, c)
}
