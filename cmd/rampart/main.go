// Command rampart runs a secured and monitored web site: an HTTPS load
// balancer, web and application servers, with mutual TLS between them, from
// one topology file. This file holds the CLI's flags and wiring only.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/rampart-dev/rampart/internal/topology"
)

const usage = `rampart runs a secured and monitored web site from one topology file.

Usage:
  rampart up [-f FILE | --preset seed|ha] [--state DIR] [--isolation loopback|netns]
        run every server of the site on this machine, each as its own process
  rampart node NAME -f FILE [--state DIR]
        run one server (how production runs, one per machine)
  rampart verify [--state DIR] [--json]
        probe a running site: every (server, server, port) against the flows,
        plaintext refused where mutual TLS is declared, health of every server
  rampart firewall show NAME [-f FILE | --preset P | --state DIR]
        print a server's firewall rules (and, for a netns site, the live table)
  rampart down [--state DIR]
        remove the namespaces and bridge that a killed "up --isolation netns" left
  rampart check [-f FILE | --preset seed|ha] [--format text|json] [--fail-on SEVERITY]
        review the design: weaknesses, why they matter and their fixes
  rampart status [--state DIR] [--json]
        a running site's servers, roles, health, QPS, p99 and firing alerts
  rampart export prometheus [-f FILE | --preset P] [--state DIR] -o DIR
        write a Prometheus scrape config and alert rules equal to the built-in ones
  rampart init [--preset seed|ha] [-o FILE] [--force]
        write a commented topology file to start from
  rampart version

With no file, up runs the seed preset. The state directory holds the site's
CA and certificates, logs and the resolved topology; it defaults to
$XDG_STATE_HOME/rampart (~/.local/state/rampart).
`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd {
	case "up":
		err = runUp(ctx, args)
	case "node":
		err = runNode(ctx, args)
	case "verify":
		err = runVerify(ctx, args)
	case "probe":
		err = runProbe(args)
	case "firewall":
		err = runFirewall(args)
	case "down":
		err = runDown(args)
	case "check":
		err = runCheck(args)
	case "status":
		err = runStatus(ctx, args)
	case "export":
		err = runExport(args)
	case "init":
		err = runInit(args)
	case "demo-app":
		err = runDemoApp(ctx, args)
	case "version", "--version":
		fmt.Println("rampart", version)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "rampart: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		if errors.Is(err, errMismatch) {
			os.Exit(1)
		}
		fail(err)
	}
}

// fail prints err as one line per problem and exits 1.
func fail(err error) {
	var errs topology.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintf(os.Stderr, "rampart: %s\n", e)
		}
	} else {
		fmt.Fprintf(os.Stderr, "rampart: %s\n", err)
	}
	os.Exit(1)
}

// siteFlags are the flags that choose a topology and a state directory.
type siteFlags struct {
	file, preset, state string
}

func (s *siteFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.file, "f", "", "topology `file` (rampart.yaml)")
	fs.StringVar(&s.preset, "preset", "", "use a built-in topology: seed or ha")
	fs.StringVar(&s.state, "state", defaultStateDir(), "state `directory`")
}

// load returns the topology the flags name; with neither, fallback preset.
func (s *siteFlags) load(fallback string) (*topology.Topology, error) {
	switch {
	case s.file != "" && s.preset != "":
		return nil, errors.New("-f and --preset are exclusive: choose one")
	case s.file != "":
		return topology.Load(s.file)
	case s.preset != "":
		return topology.Preset(s.preset)
	case fallback != "":
		return topology.Preset(fallback)
	}
	return nil, errors.New("no topology: pass -f FILE or --preset NAME")
}

func defaultStateDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "rampart")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "rampart")
	}
	return filepath.Join(os.TempDir(), "rampart-state")
}

// parse parses args with fs, allowing flags after positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
