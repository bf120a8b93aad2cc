package node

import (
	"context"
	"io/fs"
	"net/http"
	"os"

	"github.com/rampart-dev/rampart/internal/app"
	"github.com/rampart-dev/rampart/internal/balance"
	"github.com/rampart-dev/rampart/internal/serve"
	"github.com/rampart-dev/rampart/internal/topology"
	"github.com/rampart-dev/rampart/internal/web"
)

// buildWeb wires the web role: the codebase's static files, and a pool over
// every app server for the rest.
func (n *Node) buildWeb() error {
	t := n.topo
	pool, err := n.pool(topology.RoleApp, topology.ServiceApp, &balance.Config{Rewrite: balance.KeepForwarded})
	if err != nil {
		return err
	}
	var codebase fs.FS = app.Codebase
	if t.App.Codebase != "" {
		codebase = os.DirFS(t.App.Codebase)
	}
	handler, err := web.New(web.Config{Name: n.server.Name, Codebase: codebase, App: pool, Logger: n.log})
	if err != nil {
		return err
	}
	health := poolHealth("web", pool)
	mux := http.NewServeMux()
	mux.Handle("/", handler)
	// The lb checks the web server itself: healthy while it can reach an app.
	mux.HandleFunc(t.LB.Health.Path, func(w http.ResponseWriter, r *http.Request) {
		if err := health(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	opts := n.internalServe(topology.ServiceWeb)
	n.runners = append(n.runners,
		func(ctx context.Context) error { pool.Run(ctx); return nil },
		func(ctx context.Context) error { return serve.Run(ctx, n.lns[topology.ServiceWeb], mux, opts) })
	n.health = append(n.health, health)
	n.status["web"] = func() any { return pool.Status() }
	return nil
}

// internalServe returns the serving options of an internal listener: mutual
// TLS that accepts only the peers the flows declare, or plaintext under the
// terminate policy.
func (n *Node) internalServe(s topology.Service) serve.Options {
	o := serve.Options{Logger: n.log, DrainTimeout: n.topo.LB.DrainTimeout, Observer: n.observer(s)}
	if n.topo.TLS.Policy == topology.Reencrypt {
		o.TLS = n.id.ServerTLS(n.allowed(s))
	}
	return o
}

// allowed lists the peer identities that may reach service s here.
func (n *Node) allowed(s topology.Service) []string {
	var ids []string
	for _, p := range n.topo.Peers(n.server.Name, s) {
		ids = append(ids, pkiServerID(p))
	}
	return ids
}
