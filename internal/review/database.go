package review

import (
	"fmt"
	"strings"

	"github.com/rampart-dev/rampart/internal/topology"
)

// galeraQuorum is the smallest Galera cluster that keeps a majority, and so
// keeps accepting writes, when any one node is lost.
const galeraQuorum = 3

// databaseRules cover where writes go and whether they survive.
var databaseRules = []Rule{
	{ID: "RAMPART-DB-SINGLE-WRITER", Severity: Critical, Title: "Only one database server accepts writes", find: singleWriter},
	{ID: "RAMPART-DB-NO-QUORUM", Severity: Warning, Title: "A two-node Galera cluster stops when either node does", find: noQuorum},
	{ID: "RAMPART-DB-NOT-DURABLE", Severity: Critical, Title: "The database can lose writes it acknowledged", find: notDurable},
}

// writers returns the db servers that accept writes.
func writers(t *topology.Topology) []topology.Server {
	if t.Database.Replication == topology.PrimaryReplica {
		if p, ok := t.PrimaryDB(); ok {
			return []topology.Server{p}
		}
		return nil
	}
	return t.WithRole(topology.RoleDB)
}

// writeFlows returns the flows that carry writes to server.
func writeFlows(t *topology.Topology, server string) []topology.Flow {
	return t.FlowsTo(server, topology.ServiceMySQL)
}

func singleWriter(t *topology.Topology) (Finding, bool) {
	w := writers(t)
	if len(w) != 1 {
		return Finding{}, false
	}
	primary := w[0].Name
	dbs := t.WithRole(topology.RoleDB)
	var why string
	if len(dbs) == 1 {
		why = fmt.Sprintf("%s is the only database server. When it fails the site loses its data store, and "+
			"whatever its disk held since the last backup; and every write queues on that one machine, so "+
			"write load cannot grow past what it can do.", primary)
	} else {
		why = fmt.Sprintf("With database.replication: primary-replica, only %s accepts writes. When it fails every "+
			"write fails until someone promotes a replica by hand, and writes it acknowledged but had not yet "+
			"copied to a replica are lost. Every write also queues on that one machine, so write load cannot "+
			"grow past what it can do, however many replicas there are.", primary)
	}
	apply := func(t *topology.Topology) {
		t.Database.Replication = topology.Galera
		t.Database.Primary = ""
		for len(t.WithRole(topology.RoleDB)) < galeraQuorum {
			addServer(t, "db", topology.RoleDB)
		}
	}
	var steps []string
	if t.Database.Replication != topology.Galera {
		steps = append(steps, "set database.replication: galera")
	}
	if t.Database.Primary != "" {
		steps = append(steps, "remove database.primary")
	}
	if added := planned(t, apply); len(added) > 0 {
		steps = append(steps, fmt.Sprintf("give the db role to at least %d servers: add %s", galeraQuorum, list(added)))
	}
	text := capitalize(list(steps)) + ". Every node then accepts writes, a write is acknowledged only once " +
		"the cluster has certified it, and the cluster keeps a majority when any one node is lost."
	return Finding{
		Servers: names(dbs),
		Flows:   writeFlows(t, primary),
		Why:     why,
		Fix:     Fix{Text: text, Apply: apply},
	}, true
}

func noQuorum(t *topology.Topology) (Finding, bool) {
	dbs := t.WithRole(topology.RoleDB)
	if t.Database.Replication != topology.Galera || len(dbs) != 2 {
		return Finding{}, false
	}
	apply := func(t *topology.Topology) {
		for len(t.WithRole(topology.RoleDB)) < galeraQuorum {
			addServer(t, "db", topology.RoleDB)
		}
	}
	return Finding{
		Servers: names(dbs),
		Why: fmt.Sprintf("Galera keeps accepting writes only on a majority of its nodes. With two, %s and %s, "+
			"losing either leaves one of two, which is no majority, so the survivor stops accepting writes "+
			"as well: the second node adds a copy of the data but no availability.", dbs[0].Name, dbs[1].Name),
		Fix: Fix{
			Text:  fmt.Sprintf("Give the db role to a third server: add %s.", list(planned(t, apply))),
			Apply: apply,
		},
	}, true
}

func notDurable(t *topology.Topology) (Finding, bool) {
	dbs := t.WithRole(topology.RoleDB)
	d := t.Database.Durable
	flush, sync := *d.FlushLogAtTrxCommit, *d.SyncBinlog
	if len(dbs) == 0 || (flush == 1 && sync == 1) {
		return Finding{}, false
	}
	var weak []string
	switch flush {
	case 0:
		weak = append(weak, "innodb_flush_log_at_trx_commit=0 writes the redo log about once a second, so a "+
			"crash of mariadbd loses up to a second of commits")
	case 2:
		weak = append(weak, "innodb_flush_log_at_trx_commit=2 leaves each commit in the OS cache, so a power "+
			"loss or kernel crash loses up to a second of commits")
	}
	if sync != 1 {
		weak = append(weak, fmt.Sprintf("sync_binlog=%d lets the binary log lag the data on disk, so after a "+
			"crash replicas and Galera peers can hold writes the recovered server has forgotten", sync))
	}
	return Finding{
		Servers: names(dbs),
		Why: "MariaDB acknowledges a commit before it is safely on disk: " + strings.Join(weak, "; and ") +
			". The app was told those writes succeeded.",
		Fix: Fix{
			Text: "Set database.durable.innodb_flush_log_at_trx_commit: 1 and database.durable.sync_binlog: 1 " +
				"(the defaults), so a commit is on disk, in both logs, before it is acknowledged.",
			Apply: func(t *topology.Topology) {
				one, alsoOne := 1, 1
				t.Database.Durable.FlushLogAtTrxCommit = &one
				t.Database.Durable.SyncBinlog = &alsoOne
			},
		},
	}, true
}
