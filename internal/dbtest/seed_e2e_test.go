package dbtest

import (
	"testing"
	"time"
)

func TestSeedPresetReplicatesAWriteThroughTheAppToTheReplica(t *testing.T) {
	needE2E(t)
	s := newSite(t, "seed", "127.0.35.")
	began := time.Now()
	r := s.up()
	t.Logf("seed site up in %s", time.Since(began).Round(100*time.Millisecond))
	lb, _ := s.topo.Server("lb-1")
	c := s.client(lb.Address)

	var a acked
	for i := range 5 {
		if err := a.post(c, s.url("/api/guestbook"), "seed", "through the app, entry "+string(rune('a'+i))); err != nil {
			t.Fatalf("write through the app: %v", err)
		}
	}
	if a.servers["server-1"] != 5 {
		t.Errorf("writes answered by %v, want all by server-1, the primary", a.servers)
	}
	// The entries must reach server-2's replica, which the app never
	// writes to.
	s.checkAll(&a, "server-2", "server-1")

	// The primary's status is a snapshot its server refreshes every
	// poll: the replica may have connected since the last one.
	primary := s.dbStatus("server-1")
	for deadline := time.Now().Add(15 * time.Second); primary.Replicas != 1 && time.Now().Before(deadline); {
		time.Sleep(250 * time.Millisecond)
		primary = s.dbStatus("server-1")
	}
	replica := s.dbStatus("server-2")
	if primary.Role != "primary" || primary.ReadOnly || !primary.Ready || primary.Replicas != 1 {
		t.Errorf("server-1: %+v, want a writable primary with one replica", primary)
	}
	if replica.Role != "replica" || !replica.ReadOnly || replica.Replica == nil ||
		replica.Replica.IORunning != "Yes" || replica.Replica.SQLRunning != "Yes" || replica.Replica.LagSeconds < 0 {
		t.Errorf("server-2: %+v %+v, want a read-only replica replicating with a known lag", replica, replica.Replica)
	} else {
		t.Logf("server-2 replicates from %s, lag %ds, at GTID %s", replica.Replica.Primary, replica.Replica.LagSeconds, replica.Replica.GTIDPos)
	}
	var gtid string
	s.sql("server-2").QueryRow("SELECT @@gtid_slave_pos").Scan(&gtid)
	if gtid == "" {
		t.Error("server-2 has no gtid_slave_pos: not replicating by GTID")
	}

	r.stop()
	if left := s.mariadbds(); len(left) > 0 {
		t.Errorf("mariadbd left after up stopped: %v", left)
	}
}
