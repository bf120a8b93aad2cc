package node

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"

	"github.com/rampart-dev/rampart/internal/app"
	"github.com/rampart-dev/rampart/internal/balance"
	"github.com/rampart-dev/rampart/internal/hop"
	"github.com/rampart-dev/rampart/internal/pki"
	"github.com/rampart-dev/rampart/internal/serve"
	"github.com/rampart-dev/rampart/internal/topology"
)

func pkiServerID(name string) string { return pki.ServerID(name) }

// buildApp wires the app role: a supervised application process that
// listens on this server's app_process port, fronted by the app listener,
// which carries the hop's TLS so the application itself need not.
func (n *Node) buildApp() error {
	t := n.topo
	command := t.App.Command
	if len(command) == 0 {
		command = []string{n.cfg.Executable, "demo-app"}
	}
	processAddr := n.server.HostPort(t.Ports.AppProcess)
	sup, err := app.NewSupervisor(app.Config{
		Name:    n.server.Name,
		Command: command,
		Addr:    processAddr,
		Env:     append(append([]string{}, t.App.Env...), n.dbEnv...),
		LogPath: filepath.Join(n.cfg.StateDir, "servers", n.server.Name, "app.log"),
		Logger:  n.log.With("role", "app"),
	})
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	// The process is reached over loopback on the same server: plain HTTP.
	front, err := balance.New(balance.Config{
		Upstreams: []balance.Upstream{{Name: n.server.Name + "/process", Addr: processAddr}},
		Health:    balance.HealthCheck{Path: t.LB.Health.Path, Interval: t.LB.Health.Interval, Timeout: t.LB.Health.Timeout, Rise: 1, Fall: t.LB.Health.Fall},
		Retries:   -1,
		EjectFor:  -1,
		Rewrite:   balance.KeepForwarded,
		Logger:    n.log.With("role", "app"),
	})
	if err != nil {
		return err
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hop.KeepClientCert(r)
		front.ServeHTTP(w, r)
	})
	opts := n.internalServe(topology.ServiceApp)
	n.runners = append(n.runners,
		sup.Run,
		func(ctx context.Context) error { front.Run(ctx); return nil },
		func(ctx context.Context) error { return serve.Run(ctx, n.lns[topology.ServiceApp], handler, opts) })
	n.health = append(n.health, func() error {
		if !sup.Ready() {
			return fmt.Errorf("app: the application is not accepting connections on %s", processAddr)
		}
		return nil
	})
	n.instrumentApp(sup)
	n.status["app"] = func() any {
		return map[string]any{"ready": sup.Ready(), "restarts": sup.Restarts(), "command": command}
	}
	return nil
}
