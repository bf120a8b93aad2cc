package db

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// zeroUUID is Galera's "no cluster" state ID.
const zeroUUID = "00000000-0000-0000-0000-000000000000"

// Position is a Galera node's place in its cluster's history.
type Position struct {
	// UUID identifies the cluster's history; zeroUUID or "" means none.
	UUID string `json:"uuid"`
	// Seqno is the last transaction applied, or -1 when unknown (the node
	// crashed, or is running).
	Seqno int64 `json:"seqno"`
}

func (p Position) String() string { return fmt.Sprintf("%s:%d", p.UUID, p.Seqno) }

// Known reports whether p names a cluster and a transaction in it.
func (p Position) Known() bool { return p.UUID != "" && p.UUID != zeroUUID && p.Seqno >= 0 }

// Grastate is Galera's saved state file, grastate.dat.
type Grastate struct {
	Position
	// SafeToBootstrap is set by Galera on the last node to leave a cluster
	// cleanly: the one node whose data is known to be the newest.
	SafeToBootstrap bool
}

// ParseGrastate reads the text of a grastate.dat file.
func ParseGrastate(data []byte) (Grastate, error) {
	g := Grastate{Position: Position{Seqno: -1}}
	var sawUUID, sawSeqno bool
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch strings.TrimSpace(key) {
		case "uuid":
			g.UUID, sawUUID = value, true
		case "seqno":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				return Grastate{}, fmt.Errorf("grastate: seqno %q is not a number", value)
			}
			g.Seqno, sawSeqno = n, true
		case "safe_to_bootstrap":
			g.SafeToBootstrap = value == "1"
		}
	}
	if !sawUUID || !sawSeqno {
		return Grastate{}, errors.New("grastate: no uuid and seqno")
	}
	return g, nil
}

// readGrastate reads path; ok is false when the file does not exist, as on
// a node that never joined a cluster.
func readGrastate(path string) (g Grastate, ok bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Grastate{}, false, nil
	}
	if err != nil {
		return Grastate{}, false, err
	}
	g, err = ParseGrastate(data)
	if err != nil {
		return Grastate{}, false, fmt.Errorf("%s: %w", path, err)
	}
	return g, true, nil
}

var safeToBootstrapLine = regexp.MustCompile(`(?m)^safe_to_bootstrap:.*$`)

// markSafeToBootstrap sets safe_to_bootstrap: 1 in the grastate.dat at path,
// which mariadbd requires before it starts a new primary component from a
// node that did not leave last. Only the node chosen as most advanced may
// call it.
func markSafeToBootstrap(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out := safeToBootstrapLine.ReplaceAll(data, []byte("safe_to_bootstrap: 1"))
	if !safeToBootstrapLine.Match(data) {
		out = append(bytes.TrimRight(data, "\n"), []byte("\nsafe_to_bootstrap: 1\n")...)
	}
	return writeFileAtomic(path, out, 0o660)
}

// recoveredPosition matches the line `--wsrep-recover` prints. mariadbd ends
// it without a newline, so the next line's date may follow the seqno at
// once: the shortest seqno that a date, a space or the end follows is it.
var recoveredPosition = regexp.MustCompile(`WSREP: Recovered position: ([0-9a-fA-F-]{36}):(-?\d+?)(?:\d{4}-\d\d-\d\d\s|\s|$)`)

// ParseRecovered finds the position that `mariadbd --wsrep-recover` wrote
// to its log: the last one, should the log hold several runs.
func ParseRecovered(log []byte) (Position, bool) {
	all := recoveredPosition.FindAllSubmatch(log, -1)
	if len(all) == 0 {
		return Position{}, false
	}
	m := all[len(all)-1]
	seqno, err := strconv.ParseInt(string(m[2]), 10, 64)
	if err != nil {
		return Position{}, false
	}
	return Position{UUID: string(m[1]), Seqno: seqno}, true
}

// Transfer is how a joining node received the cluster's state.
type Transfer struct {
	// Kind is "IST" (only the missing transactions), "SST" (a full copy), or
	// "" when the log shows neither.
	Kind string `json:"kind"`
	// Writesets is how many transactions an IST carried.
	Writesets int `json:"writesets,omitempty"`
}

var (
	transferDone = regexp.MustCompile(`\b\w+ (IST|SST) completed on joiner`)
	istReceiving = regexp.MustCompile(`Receiving IST: (\d+) writesets`)
)

// ParseTransfer reads the error log written since a node started and says
// how it caught up. The state transfer script reports whether it moved data
// (SST) or left it to Galera's incremental transfer (IST).
func ParseTransfer(log []byte) Transfer {
	var t Transfer
	if m := transferDone.FindAllSubmatch(log, -1); len(m) > 0 {
		t.Kind = string(m[len(m)-1][1])
	}
	if m := istReceiving.FindAllSubmatch(log, -1); len(m) > 0 {
		t.Writesets, _ = strconv.Atoi(string(m[len(m)-1][1]))
		if t.Kind == "" {
			t.Kind = "IST"
		}
	}
	return t
}
