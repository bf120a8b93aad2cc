package firewall

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"time"
)

// Table is the nftables table rampart owns in each server's network
// namespace. rampart never reads or writes any other table.
const Table = "rampart"

// setName is the named set of a rule's sources for one address family.
func setName(r Rule, v6 bool) string {
	if v6 {
		return fmt.Sprintf("from_%s_%d_v6", r.Service, r.Port)
	}
	return fmt.Sprintf("from_%s_%d_v4", r.Service, r.Port)
}

// Script renders the ruleset as one nft transaction that replaces the
// table atomically: it is created if missing, deleted, and defined again,
// all or nothing.
func (rs Ruleset) Script() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s\ndelete table inet %s\n", Table, Table)
	fmt.Fprintf(&b, "table inet %s {\n", Table)
	for _, r := range rs.Rules {
		if r.Any {
			continue
		}
		for _, v6 := range []bool{false, true} {
			typ := "ipv4_addr"
			if v6 {
				typ = "ipv6_addr"
			}
			var elems []string
			for _, p := range r.Sources {
				if p.Addr().Is6() == v6 {
					elems = append(elems, p.String())
				}
			}
			fmt.Fprintf(&b, "\tset %s {\n\t\ttype %s\n\t\tflags interval\n", setName(r, v6), typ)
			if len(elems) > 0 {
				fmt.Fprintf(&b, "\t\telements = { %s }\n", strings.Join(elems, ", "))
			}
			fmt.Fprintf(&b, "\t\tcomment %q\n\t}\n", "sources of "+string(r.Service)+": "+strings.Join(r.From, ", "))
		}
	}
	if rs.Bans {
		fmt.Fprintf(&b, "\tset banned_v4 {\n\t\ttype ipv4_addr\n\t\tflags timeout\n\t\tcomment \"clients over the lb's limits\"\n\t}\n")
		// IPv6 clients are banned by /64 (clientKey): a set of intervals.
		fmt.Fprintf(&b, "\tset banned_v6 {\n\t\ttype ipv6_addr\n\t\tflags interval,timeout\n\t\tcomment \"clients over the lb's limits, by /64\"\n\t}\n")
	}
	b.WriteString("\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n")
	b.WriteString("\t\tiif \"lo\" accept comment \"loopback\"\n")
	b.WriteString("\t\tct state invalid counter drop comment \"invalid\"\n")
	if rs.Bans {
		b.WriteString("\t\tip saddr @banned_v4 counter drop comment \"banned\"\n")
		b.WriteString("\t\tip6 saddr @banned_v6 counter drop comment \"banned-v6\"\n")
	}
	b.WriteString("\t\tct state established,related accept comment \"established\"\n")
	b.WriteString("\t\tmeta l4proto icmp icmp type { echo-request, destination-unreachable, time-exceeded, parameter-problem } limit rate 10/second accept comment \"icmp\"\n")
	// Without neighbour discovery and packet-too-big, IPv6 does not work.
	b.WriteString("\t\tmeta l4proto ipv6-icmp icmpv6 type { echo-request, destination-unreachable, packet-too-big, time-exceeded, parameter-problem, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept comment \"icmpv6\"\n")
	for _, r := range rs.Rules {
		if r.Any {
			fmt.Fprintf(&b, "\t\ttcp dport %d counter accept comment %q\n", r.Port, r.ID())
			continue
		}
		fmt.Fprintf(&b, "\t\tip saddr @%s tcp dport %d counter accept comment %q\n", setName(r, false), r.Port, r.ID())
		fmt.Fprintf(&b, "\t\tip6 saddr @%s tcp dport %d counter accept comment %q\n", setName(r, true), r.Port, r.ID()+"-v6")
	}
	fmt.Fprintf(&b, "\t\tlimit rate 5/second burst 10 packets log prefix %q level info comment \"log-drops\"\n", "rampart drop "+rs.Server+": ")
	b.WriteString("\t\tcounter drop comment \"dropped\"\n")
	b.WriteString("\t}\n}\n")
	return b.String()
}

// nft runs the nft command with stdin and returns a one-line error.
func nft(ctx context.Context, stdin string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "nft", args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.IndexByte(msg, '\n'); i > 0 {
			msg = msg[:i]
		}
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("nft %s: %s", strings.Join(args, " "), msg)
	}
	return out, nil
}

// Apply installs the ruleset atomically in the current network namespace.
func (rs Ruleset) Apply(ctx context.Context) error {
	_, err := nft(ctx, rs.Script(), "-f", "-")
	return err
}

// Remove deletes rampart's table from the current network namespace.
func Remove(ctx context.Context) error {
	_, err := nft(ctx, "", "delete", "table", "inet", Table)
	if err != nil && strings.Contains(err.Error(), "No such file") {
		return nil
	}
	return err
}

// Available reports whether nftables can be used here: nft is installed
// and this process may change the ruleset.
func Available() error {
	if _, err := exec.LookPath("nft"); err != nil {
		return fmt.Errorf("nft is not installed (Debian: apt-get install nftables)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := nft(ctx, "", "list", "tables")
	return err
}

// Counter is one rule's counter.
type Counter struct {
	Rule    string
	Packets uint64
	Bytes   uint64
}

// Counters reads every counted rule of rampart's table, keyed by comment.
func Counters(ctx context.Context) (map[string]Counter, error) {
	out, err := nft(ctx, "", "-j", "list", "table", "inet", Table)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, fmt.Errorf("nft -j: %w", err)
	}
	counters := map[string]Counter{}
	for _, obj := range doc.Nftables {
		raw, ok := obj["rule"]
		if !ok {
			continue
		}
		var rule struct {
			Comment string            `json:"comment"`
			Expr    []json.RawMessage `json:"expr"`
		}
		if json.Unmarshal(raw, &rule) != nil || rule.Comment == "" {
			continue
		}
		for _, e := range rule.Expr {
			var c struct {
				Counter *struct {
					Packets uint64 `json:"packets"`
					Bytes   uint64 `json:"bytes"`
				} `json:"counter"`
			}
			if json.Unmarshal(e, &c) == nil && c.Counter != nil {
				counters[rule.Comment] = Counter{Rule: rule.Comment, Packets: c.Counter.Packets, Bytes: c.Counter.Bytes}
			}
		}
	}
	return counters, nil
}

// NftBans bans clients in the lb's banned sets, where the kernel drops
// them; each entry expires by itself.
type NftBans struct{}

// Ban drops the packets of client, an IPv4 address (/32) or an IPv6 /64,
// for d.
func (NftBans) Ban(ctx context.Context, client netip.Prefix, d time.Duration) error {
	set, elem := banElement(client, d)
	_, err := nft(ctx, "", "add", "element", "inet", Table, set, elem)
	return err
}

// banElement is the set and the element that ban client for d.
func banElement(client netip.Prefix, d time.Duration) (set, elem string) {
	set, who := "banned_v4", client.Addr().String()
	if client.Addr().Is6() {
		set, who = "banned_v6", client.Masked().String()
	}
	return set, fmt.Sprintf("{ %s timeout %ds }", who, max(1, int(d.Seconds())))
}
