package db

import (
	"strings"
	"testing"
)

const clusterA = "55b30d5c-eb8b-11f1-a586-679889ba5858"

func at(name string, seqno int64) *Report {
	return &Report{Name: name, Position: Position{clusterA, seqno}}
}

func TestDecideBootstrapsOnlyFromTheRightNode(t *testing.T) {
	order := []string{"db-1", "db-2", "db-3"}
	fresh := func(n string) *Report { return &Report{Name: n, Fresh: true} }
	for _, c := range []struct {
		name  string
		self  Report
		peers []peerState
		want  action
		why   string // part of the reason
	}{
		{"a running peer means join, whatever the positions",
			*at("db-1", 90), []peerState{{Name: "db-2", Live: true}, {Name: "db-3"}}, actJoin, "db-2 is running"},
		{"the node that left last starts at once",
			Report{Name: "db-3", Position: Position{clusterA, 40}, SafeToBootstrap: true}, []peerState{{Name: "db-1"}, {Name: "db-2"}}, actBootstrap, "left the cluster last"},
		{"others wait for the node that left last, even if they claim more",
			*at("db-1", 99), []peerState{{Name: "db-2", Report: &Report{Name: "db-2", Position: Position{clusterA, 40}, SafeToBootstrap: true}}, {Name: "db-3", Report: at("db-3", 40)}}, actWait, "db-2 left the cluster last"},
		{"after a crash nobody starts while a peer is silent",
			*at("db-1", 90), []peerState{{Name: "db-2", Report: at("db-2", 10)}, {Name: "db-3"}}, actWait, "waiting for db-3"},
		{"after a crash the most advanced starts",
			*at("db-2", 90), []peerState{{Name: "db-1", Report: at("db-1", 80)}, {Name: "db-3", Report: at("db-3", 85)}}, actBootstrap, "most advanced (seqno 90)"},
		{"a stale node waits for the most advanced",
			*at("db-3", 80), []peerState{{Name: "db-1", Report: at("db-1", 90)}, {Name: "db-2", Report: at("db-2", 90)}}, actWait, "db-1 is the most advanced (seqno 90)"},
		{"ties go to the first in file order",
			*at("db-2", 90), []peerState{{Name: "db-1", Report: at("db-1", 90)}, {Name: "db-3", Report: at("db-3", 90)}}, actWait, "db-1 is the most advanced"},
		{"a fresh site starts on the first db server",
			Report{Name: "db-1", Fresh: true}, []peerState{{Name: "db-2", Report: fresh("db-2")}, {Name: "db-3", Report: fresh("db-3")}}, actBootstrap, "new cluster"},
		{"a fresh node never outranks one with data",
			Report{Name: "db-1", Fresh: true}, []peerState{{Name: "db-2", Report: at("db-2", 0)}, {Name: "db-3", Report: fresh("db-3")}}, actWait, "db-2 is the most advanced"},
		{"a fresh node's safe_to_bootstrap means nothing",
			Report{Name: "db-2", Fresh: true, SafeToBootstrap: true}, []peerState{{Name: "db-1", Report: at("db-1", 5)}, {Name: "db-3", Report: at("db-3", 5)}}, actWait, "db-1 is the most advanced"},
		{"two histories are never merged by choice",
			*at("db-1", 9), []peerState{{Name: "db-2", Report: &Report{Name: "db-2", Position: Position{"aaaaaaaa-eb8b-11f1-a586-679889ba5858", 70}}}, {Name: "db-3", Report: at("db-3", 9)}}, actWait, "different clusters"},
	} {
		got, why := decide(c.self, order, c.peers)
		if got != c.want || !strings.Contains(why, c.why) {
			t.Errorf("%s: %v (%s), want %v (%s)", c.name, got, why, c.want, c.why)
		}
	}
}
