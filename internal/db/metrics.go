package db

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rampart-dev/rampart/internal/metrics"
)

// The first five names are the contract with the monitor's alert rules
// (package metrics); the others add detail for dashboards.
var (
	descUp = prometheus.NewDesc(metrics.DBUp,
		"1 while mariadbd answers rampart's status queries.", nil, nil)
	descQuestions = prometheus.NewDesc(metrics.DBQuestions,
		"Statements clients sent (MariaDB's Questions); rate() gives queries per second.", nil, nil)
	descConnections = prometheus.NewDesc(metrics.DBConnections,
		"Client connections open on the server (Threads_connected).", nil, nil)
	descReplicationHealthy = prometheus.NewDesc(metrics.DBReplicationHealthy,
		"1 while the server serves its role: Galera Synced in a primary component, a writable primary, or a replica whose threads run.", nil, nil)
	descClusterSize = prometheus.NewDesc(metrics.DBClusterSize,
		"Servers this one sees in its cluster: wsrep_cluster_size, or 1 + connected replicas (a replica counts its primary).", nil, nil)
	descRestarts = prometheus.NewDesc("rampart_db_restarts_total",
		"Times rampart started mariadbd again after it stopped.", nil, nil)
	descWsrepState = prometheus.NewDesc("rampart_db_galera_state",
		"1 for this node's wsrep_local_state_comment (Synced, Donor/Desynced, Joining...).", []string{"state"}, nil)
	descLag = prometheus.NewDesc("rampart_db_replication_lag_seconds",
		"Seconds the replica is behind its primary; absent while it is not replicating.", nil, nil)
)

// Collector returns the server's metrics for the admin endpoint, read from
// the status the supervision keeps, so a scrape never waits on mariadbd.
func (s *Server) Collector() prometheus.Collector { return collector{s} }

type collector struct{ s *Server }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descQuestions, descConnections, descReplicationHealthy,
		descClusterSize, descRestarts, descWsrepState, descLag} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Status()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	up := !st.Updated.IsZero() && time.Since(st.Updated) < 3*pollInterval+2*time.Second && st.PID != 0
	gauge(descUp, boolFloat(up))
	ch <- prometheus.MustNewConstMetric(descRestarts, prometheus.CounterValue, float64(st.Restarts))
	if !up {
		return
	}
	ch <- prometheus.MustNewConstMetric(descQuestions, prometheus.CounterValue, float64(st.Questions))
	gauge(descConnections, float64(st.Connections))
	gauge(descReplicationHealthy, boolFloat(st.ready()))
	size := 1 + st.Replicas
	switch {
	case st.Galera != nil:
		size = st.Galera.ClusterSize
		if st.Galera.LocalState != "" {
			gauge(descWsrepState, 1, st.Galera.LocalState)
		}
	case st.Replica != nil:
		size = 1
		if st.Replica.IORunning == "Yes" {
			size = 2
		}
		if st.Replica.LagSeconds >= 0 {
			gauge(descLag, float64(st.Replica.LagSeconds))
		}
	}
	gauge(descClusterSize, float64(size))
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
