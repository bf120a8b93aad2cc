package db

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"
)

// Status is what a db server reports about itself on the admin endpoint.
type Status struct {
	Role    string `json:"role"`  // galera, primary or replica
	State   string `json:"state"` // preparing, waiting, starting, ready, degraded, restarting, stopped...
	Detail  string `json:"detail,omitempty"`
	Ready   bool   `json:"ready"`
	Address string `json:"address"`
	PID     int    `json:"pid,omitempty"`
	// Restarts counts starts after the first.
	Restarts    int    `json:"restarts"`
	Questions   uint64 `json:"questions"` // statements clients sent
	Connections int    `json:"connections"`
	// Replicas is how many replicas are connected to a primary.
	Replicas int  `json:"replicas,omitempty"`
	ReadOnly bool `json:"read_only"`
	// Bootstrapped is set when this start began a new Galera cluster.
	Bootstrapped bool           `json:"bootstrapped,omitempty"`
	LastTransfer *Transfer      `json:"last_transfer,omitempty"`
	Galera       *GaleraStatus  `json:"galera,omitempty"`
	Replica      *ReplicaStatus `json:"replica,omitempty"`
	Updated      time.Time      `json:"updated"`
}

// GaleraStatus is a Galera node's view of its cluster.
type GaleraStatus struct {
	LocalState    string `json:"local_state"`    // Synced, Donor/Desynced, Joining...
	ClusterStatus string `json:"cluster_status"` // Primary or non-Primary
	ClusterSize   int    `json:"cluster_size"`
	Ready         bool   `json:"ready"`
	LastCommitted int64  `json:"last_committed"`
}

// ReplicaStatus is a replica's replication state.
type ReplicaStatus struct {
	Primary    string `json:"primary"`
	IORunning  string `json:"io_running"` // Yes, No or Connecting
	SQLRunning string `json:"sql_running"`
	// LagSeconds is Seconds_Behind_Master, or -1 when unknown (not
	// replicating).
	LagSeconds int64  `json:"lag_seconds"`
	GTIDPos    string `json:"gtid_pos"`
	LastError  string `json:"last_error,omitempty"`
}

// ready reports whether the status shows a server that serves its role.
func (st Status) ready() bool {
	switch {
	case st.Galera != nil:
		return st.Galera.LocalState == "Synced" && st.Galera.ClusterStatus == "Primary" && st.Galera.Ready
	case st.Replica != nil:
		return st.Replica.IORunning == "Yes" && st.Replica.SQLRunning == "Yes"
	default:
		return !st.ReadOnly
	}
}

// why says what keeps the status from ready.
func (st Status) why() string {
	switch {
	case st.Galera != nil:
		return fmt.Sprintf("galera %s, cluster %s, size %d", st.Galera.LocalState, st.Galera.ClusterStatus, st.Galera.ClusterSize)
	case st.Replica != nil:
		msg := fmt.Sprintf("replication from %s: io %s, sql %s", st.Replica.Primary, st.Replica.IORunning, st.Replica.SQLRunning)
		if st.Replica.LastError != "" {
			msg += ": " + st.Replica.LastError
		}
		return msg
	case st.ReadOnly:
		return "the primary is read-only"
	}
	return ""
}

// statusVariables are the server status counters rampart reads.
var statusVariables = `'Questions','Threads_connected','Slaves_connected','wsrep_local_state_comment','wsrep_cluster_status',` +
	`'wsrep_cluster_size','wsrep_ready','wsrep_last_committed'`

// poll reads the server's status over the local socket.
func (s *Server) poll(ctx context.Context) (Status, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	vars := map[string]string{}
	rows, err := s.local.QueryContext(ctx, "SHOW GLOBAL STATUS WHERE Variable_name IN ("+statusVariables+")")
	if err != nil {
		return Status{}, err
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return Status{}, err
		}
		vars[k] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Status{}, err
	}
	var st Status
	st.Questions, _ = strconv.ParseUint(vars["Questions"], 10, 64)
	st.Replicas, _ = strconv.Atoi(vars["Slaves_connected"])
	st.Connections, _ = strconv.Atoi(vars["Threads_connected"])
	if err := s.local.QueryRowContext(ctx, "SELECT @@read_only").Scan(&st.ReadOnly); err != nil {
		return Status{}, err
	}
	switch s.role {
	case RoleGalera:
		g := &GaleraStatus{LocalState: vars["wsrep_local_state_comment"], ClusterStatus: vars["wsrep_cluster_status"], Ready: vars["wsrep_ready"] == "ON"}
		g.ClusterSize, _ = strconv.Atoi(vars["wsrep_cluster_size"])
		g.LastCommitted, _ = strconv.ParseInt(vars["wsrep_last_committed"], 10, 64)
		st.Galera = g
	case RoleReplica:
		r, err := s.replicaStatus(ctx)
		if err != nil {
			return Status{}, err
		}
		st.Replica = r
	}
	return st, nil
}

// replicaStatus reads SHOW SLAVE STATUS by column name.
func (s *Server) replicaStatus(ctx context.Context) (*ReplicaStatus, error) {
	r := &ReplicaStatus{Primary: s.primary.Name, IORunning: "No", SQLRunning: "No", LagSeconds: -1}
	rows, err := s.local.QueryContext(ctx, "SHOW SLAVE STATUS")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if !rows.Next() {
		return r, rows.Err()
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	col := map[string]sql.NullString{}
	for i, c := range cols {
		col[c] = vals[i]
	}
	r.IORunning, r.SQLRunning = col["Slave_IO_Running"].String, col["Slave_SQL_Running"].String
	if lag := col["Seconds_Behind_Master"]; lag.Valid {
		r.LagSeconds, _ = strconv.ParseInt(lag.String, 10, 64)
	}
	r.GTIDPos = col["Gtid_IO_Pos"].String
	for _, e := range []string{"Last_IO_Error", "Last_SQL_Error"} {
		if v := col[e].String; v != "" {
			r.LastError = v
		}
	}
	return r, nil
}
