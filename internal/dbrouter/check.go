package dbrouter

import (
	"context"
	"database/sql"
	"fmt"
)

// Check reads one backend's state over SQL and says whether it may take the
// application's connections. state describes the backend for status pages.
type Check interface {
	Check(ctx context.Context, db *sql.DB) (usable bool, state string, err error)
}

// GaleraCheck passes a node that is Synced in a primary component and ready
// for queries. A donor or joiner is skipped, even though it answers.
type GaleraCheck struct{}

func (GaleraCheck) Check(ctx context.Context, db *sql.DB) (bool, string, error) {
	rows, err := db.QueryContext(ctx, "SHOW GLOBAL STATUS WHERE Variable_name IN "+
		"('wsrep_local_state_comment','wsrep_cluster_status','wsrep_ready')")
	if err != nil {
		return false, "", err
	}
	defer rows.Close()
	v := map[string]string{}
	for rows.Next() {
		var k, val string
		if err := rows.Scan(&k, &val); err != nil {
			return false, "", err
		}
		v[k] = val
	}
	if err := rows.Err(); err != nil {
		return false, "", err
	}
	state := fmt.Sprintf("%s, %s", v["wsrep_local_state_comment"], v["wsrep_cluster_status"])
	usable := v["wsrep_local_state_comment"] == "Synced" && v["wsrep_cluster_status"] == "Primary" && v["wsrep_ready"] == "ON"
	return usable, state, nil
}

// PrimaryCheck passes the one server that accepts writes: read_only off.
// Replicas answer too, but a write sent to one would fail.
type PrimaryCheck struct{}

func (PrimaryCheck) Check(ctx context.Context, db *sql.DB) (bool, string, error) {
	var readOnly bool
	if err := db.QueryRowContext(ctx, "SELECT @@read_only").Scan(&readOnly); err != nil {
		return false, "", err
	}
	if readOnly {
		return false, "replica (read-only)", nil
	}
	return true, "primary", nil
}
