package node

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rampart-dev/rampart/internal/pki"
	"github.com/rampart-dev/rampart/internal/serve"
	"github.com/rampart-dev/rampart/internal/topology"
)

// buildAdmin wires the admin endpoint: /healthz, /status and /metrics, over
// mutual TLS to the monitor and the operator's tools only, whatever the
// site's TLS policy.
//
// /metrics serves the server's registry: everything its roles registered,
// and, while its monitoring client runs, the host's figures and the seconds
// left on its certificates.
func (n *Node) buildAdmin() {
	n.hostMetrics()
	n.watchOwnCertificates()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := n.Healthy(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		doc := map[string]any{
			"server":  n.server.Name,
			"address": n.server.Address,
			"roles":   n.server.Roles,
			"uptime":  time.Since(n.started).Round(time.Second).String(),
			"healthy": n.Healthy() == nil,
		}
		for role, f := range n.status {
			doc[role] = f()
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(doc)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.registry.gatherer, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(n.log.Handler(), slog.LevelWarn),
		// A collector that fails (the database down, say) must not hide
		// every other metric from the collector.
		ErrorHandling: promhttp.ContinueOnError,
	}))
	opts := serve.Options{Logger: n.log, TLS: n.id.ServerTLS(append(n.allowed(topology.ServiceAdmin), pki.AdminIdentity)),
		Observer: n.observer(topology.ServiceAdmin)}
	n.runners = append(n.runners, func(ctx context.Context) error {
		return serve.Run(ctx, n.lns[topology.ServiceAdmin], mux, opts)
	})
}
