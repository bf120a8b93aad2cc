package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rampart-dev/rampart/internal/cluster"
	"github.com/rampart-dev/rampart/internal/pki"
	"github.com/rampart-dev/rampart/internal/topology"
	"github.com/rampart-dev/rampart/internal/verify"
)

// errMismatch makes verify exit 1 after printing its report.
var errMismatch = errors.New("the site does not match its topology")

// runningSite loads what `up` wrote in the state directory.
func runningSite(state string) (*topology.Topology, *cluster.Netns, error) {
	t, err := topology.Load(filepath.Join(state, "site.yaml"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("no running site in %s (start one with rampart up --state %s)", state, state)
	}
	if err != nil {
		return nil, nil, err
	}
	ns, err := cluster.LoadNetns(state)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, err
	}
	return t, ns, nil
}

// operator is what the operator's commands need of a running site: its
// topology, its network (netns mode), its CA and a client that presents
// the admin certificate.
type operator struct {
	topo   *topology.Topology
	netns  *cluster.Netns
	ca     *pki.CA
	client *http.Client
}

// openRunning loads the running site in state for an operator command.
func openRunning(state string) (*operator, error) {
	t, ns, err := runningSite(state)
	if err != nil {
		return nil, err
	}
	ca, err := pki.OpenCA(filepath.Join(state, "pki"), t.Site.Domain)
	if err != nil {
		return nil, err
	}
	admin, err := ca.Admin()
	if err != nil {
		return nil, err
	}
	return &operator{topo: t, netns: ns, ca: ca, client: cluster.AdminClient(ca, admin)}, nil
}

func runVerify(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	state := fs.String("state", defaultStateDir(), "state `directory` of the running site")
	asJSON := fs.Bool("json", false, "print the checks as JSON")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	op, err := openRunning(*state)
	if err != nil {
		return err
	}
	t, ns, client := op.topo, op.netns, op.client
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	site := verify.Site{
		Topology:   t,
		Executable: exe,
		HostAddr:   "127.0.0.1",
		Health: func(ctx context.Context, name string) error {
			s, _ := t.Server(name)
			req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+s.HostPort(t.Ports.Admin)+"/healthz", nil)
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
			if resp.StatusCode != 200 {
				return errors.New(strings.TrimSpace(string(body)))
			}
			return nil
		},
	}
	if ns != nil {
		site.Namespaces, site.HostAddr = ns.Namespaces, ns.HostAddr
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	rep, err := verify.Run(ctx, site)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		fmt.Printf("verify %s: %d servers\n\n", t.Site.Domain, len(t.Servers))
		rep.Print(os.Stdout)
	}
	if len(rep.Problems()) > 0 {
		return errMismatch
	}
	return nil
}

// runProbe is run by verify inside a server's network namespace: it reads
// targets as JSON on stdin and writes results as JSON on stdout.
func runProbe(args []string) error {
	var targets []verify.Target
	if err := json.NewDecoder(os.Stdin).Decode(&targets); err != nil {
		return fmt.Errorf("probe: targets on stdin: %w", err)
	}
	return json.NewEncoder(os.Stdout).Encode(verify.ProbeAll(nil, targets, time.Second))
}
