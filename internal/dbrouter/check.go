package dbrouter

import (
	"context"
	"database/sql"
	"fmt"
)

// Health is what a Check found on one backend.
type Health struct {
	// Usable backends take new connections.
	Usable bool
	// Keep lets a backend that is not Usable keep the connections it
	// carries, because they still work there (a Galera donor, say); a
	// backend that is neither is drained at once.
	Keep bool
	// State describes the backend for status pages.
	State string
}

// Check reads one backend's state over SQL, through db. An error means the
// backend could not be checked at all.
type Check interface {
	Check(ctx context.Context, b Backend, db *sql.DB) (Health, error)
}

// GaleraCheck passes a node that is Synced in a primary component and ready
// for queries. A donor or a node that just joined takes no new connections
// but keeps its own: they still commit, only later. A node outside a
// primary component refuses every query, so its connections are closed.
type GaleraCheck struct{}

func (GaleraCheck) Check(ctx context.Context, _ Backend, db *sql.DB) (Health, error) {
	rows, err := db.QueryContext(ctx, "SHOW GLOBAL STATUS WHERE Variable_name IN "+
		"('wsrep_local_state_comment','wsrep_cluster_status','wsrep_ready')")
	if err != nil {
		return Health{}, err
	}
	defer rows.Close()
	v := map[string]string{}
	for rows.Next() {
		var k, val string
		if err := rows.Scan(&k, &val); err != nil {
			return Health{}, err
		}
		v[k] = val
	}
	if err := rows.Err(); err != nil {
		return Health{}, err
	}
	inPrimary := v["wsrep_cluster_status"] == "Primary" && v["wsrep_ready"] == "ON"
	return Health{
		Usable: inPrimary && v["wsrep_local_state_comment"] == "Synced",
		Keep:   inPrimary,
		State:  fmt.Sprintf("%s, %s", v["wsrep_local_state_comment"], v["wsrep_cluster_status"]),
	}, nil
}

// PrimaryCheck passes the one server that accepts writes: read_only off.
// Replicas answer too, but a write sent to one would fail.
type PrimaryCheck struct{}

func (PrimaryCheck) Check(ctx context.Context, _ Backend, db *sql.DB) (Health, error) {
	var readOnly bool
	if err := db.QueryRowContext(ctx, "SELECT @@read_only").Scan(&readOnly); err != nil {
		return Health{}, err
	}
	if readOnly {
		return Health{State: "replica (read-only)"}, nil
	}
	return Health{Usable: true, State: "primary"}, nil
}
