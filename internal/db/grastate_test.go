package db

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseGrastate(t *testing.T) {
	for _, c := range []struct {
		name, text string
		want       Grastate
		wantErr    bool
	}{
		{"clean stop of the last node", "# GALERA saved state\nversion: 2.1\nuuid:    55b30d5c-eb8b-11f1-a586-679889ba5858\nseqno:   14\nsafe_to_bootstrap: 1\n",
			Grastate{Position{"55b30d5c-eb8b-11f1-a586-679889ba5858", 14}, true}, false},
		{"a crash leaves seqno -1", "version: 2.1\nuuid: 55b30d5c-eb8b-11f1-a586-679889ba5858\nseqno: -1\nsafe_to_bootstrap: 0\n",
			Grastate{Position{"55b30d5c-eb8b-11f1-a586-679889ba5858", -1}, false}, false},
		{"version 2.0 has no safe_to_bootstrap", "version: 2.0\nuuid: 00000000-0000-0000-0000-000000000000\nseqno: -1\n",
			Grastate{Position{zeroUUID, -1}, false}, false},
		{"no uuid", "version: 2.1\nseqno: 3\n", Grastate{}, true},
		{"bad seqno", "uuid: x\nseqno: three\n", Grastate{}, true},
	} {
		got, err := ParseGrastate([]byte(c.text))
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("%s: got %+v, %v; want %+v, error %v", c.name, got, err, c.want, c.wantErr)
		}
	}
}

func TestMarkSafeToBootstrapChangesOnlyTheFlag(t *testing.T) {
	path := filepath.Join(t.TempDir(), "grastate.dat")
	orig := "# GALERA saved state\nversion: 2.1\nuuid:    55b30d5c-eb8b-11f1-a586-679889ba5858\nseqno:   -1\nsafe_to_bootstrap: 0\n"
	os.WriteFile(path, []byte(orig), 0o660)
	if err := markSafeToBootstrap(path); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if want := strings.Replace(orig, "safe_to_bootstrap: 0", "safe_to_bootstrap: 1", 1); string(data) != want {
		t.Errorf("grastate.dat became\n%s\nwant\n%s", data, want)
	}
	g, _, err := readGrastate(path)
	if err != nil || !g.SafeToBootstrap || g.Seqno != -1 {
		t.Errorf("read back %+v, %v", g, err)
	}
}

func TestParseRecoveredTakesTheLastPosition(t *testing.T) {
	log := "2026-11-29  0:26:14 0 [Note] InnoDB: Starting recovery\n" +
		"2026-11-29  0:26:14 0 [Note] WSREP: Recovered position: 55b30d5c-eb8b-11f1-a586-679889ba5858:7\n" +
		// mariadbd runs the next line on, without a newline, as it really does.
		"2026-11-29  0:26:15 0 [Note] WSREP: Recovered position: 55b30d5c-eb8b-11f1-a586-679889ba5858:82026-11-29  0:26:15 0 [Warning] Could not increase number of max_open_files\n"
	got, ok := ParseRecovered([]byte(log))
	if !ok || got != (Position{"55b30d5c-eb8b-11f1-a586-679889ba5858", 8}) {
		t.Errorf("got %v %v, want ...:8", got, ok)
	}
	if _, ok := ParseRecovered([]byte("[ERROR] Aborting\n")); ok {
		t.Error("found a position in a log without one")
	}
	if !got.Known() || (Position{zeroUUID, 3}).Known() || (Position{"u", -1}).Known() {
		t.Error("Known is wrong")
	}
}

func TestParseTransferTellsISTFromSST(t *testing.T) {
	ist := "WSREP_SST: [INFO] rsync IST completed on joiner (20261129 00:26:31.100)\n" +
		"2026-11-29  0:26:31 2 [Note] WSREP: Receiving IST: 3 writesets, seqnos 9-11\n"
	sst := "WSREP_SST: [INFO] rsync SST completed on joiner (20261129 00:26:03.366)\n" +
		"2026-11-29  0:26:04 0 [Note] WSREP: Receiving IST... 100.0% (4/4 events) complete.\n"
	for _, c := range []struct {
		log  string
		want Transfer
	}{
		{ist, Transfer{"IST", 3}},
		{sst, Transfer{Kind: "SST"}},
		{"2026-11-29  0:26:31 2 [Note] WSREP: Receiving IST: 12 writesets, seqnos 9-20\n", Transfer{"IST", 12}},
		{"nothing here\n", Transfer{}},
	} {
		if got := ParseTransfer([]byte(c.log)); got != c.want {
			t.Errorf("ParseTransfer(%q) = %+v, want %+v", c.log, got, c.want)
		}
	}
}
