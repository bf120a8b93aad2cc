package firewall

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/topology"
)

// TestIPv6ClientsCountByTheirSlash64: a ban holds for every address of an
// IPv6 client's /64 and no further; IPv4 clients are single addresses,
// whether written plainly or IPv4-mapped.
func TestIPv6ClientsCountByTheirSlash64(t *testing.T) {
	bans := NewBans(nil)
	bans.Ban(context.Background(), netip.MustParseAddr("2001:db8:1:2::1"), time.Minute, "test")
	bans.Ban(context.Background(), netip.MustParseAddr("::ffff:10.0.0.1"), time.Minute, "test")
	for addr, want := range map[string]bool{
		"2001:db8:1:2::1":                 true,
		"2001:db8:1:2:ffff:ffff:ffff:fff": true, // the same /64
		"2001:db8:1:3::1":                 false,
		"10.0.0.1":                        true,
		"10.0.0.2":                        false,
	} {
		if got := bans.Banned(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Banned(%s) = %v, want %v", addr, got, want)
		}
	}
	if bans.Total() != 2 {
		t.Errorf("%d bans made, want 2", bans.Total())
	}
}

// TestLimiterCountsAnIPv6Slash64AsOneClient: addresses of one /64 share a
// request rate, so moving to the next address does not reset it.
func TestLimiterCountsAnIPv6Slash64AsOneClient(t *testing.T) {
	lim := NewLimiter(Limits{RequestsPerSecond: 1, Burst: 2, BanFor: time.Minute}, NewBans(nil), nil)
	h := lim.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	get := func(addr string) int {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = netip.AddrPortFrom(netip.MustParseAddr(addr), 40000).String()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	codes := []int{get("2001:db8:1:2::1"), get("2001:db8:1:2::2"), get("2001:db8:1:2::3")}
	if fmt.Sprint(codes) != "[200 200 429]" {
		t.Fatalf("three addresses of one /64 got %v, want [200 200 429]: they share one burst of 2", codes)
	}
	if code := get("2001:db8:1:3::1"); code != http.StatusOK {
		t.Fatalf("another /64 got %d, want 200", code)
	}
}

// TestKernelBanSets: in a network namespace of its own, the lb's table
// takes the elements the lb adds when it bans, and they cover what a ban
// means: an IPv4 address, and every address of an IPv6 /64.
func TestKernelBanSets(t *testing.T) {
	if os.Getenv("RAMPART_E2E") == "" {
		t.Skip("end-to-end test: set RAMPART_E2E=1 (scripts/test does)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	if err := Available(); err != nil {
		t.Skip(err)
	}
	ns := fmt.Sprintf("rpfw%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command("ip", append([]string{"netns", "exec", ns, "nft"}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	rs := Ruleset{Server: "lb-1", Bans: true, Rules: []Rule{{Service: topology.ServiceHTTPS, Port: 443, Any: true}}}
	if out, err := run(rs.Script(), "-f", "-"); err != nil {
		t.Fatalf("applying the lb's table: %v: %s", err, out)
	}
	for _, client := range []netip.Prefix{clientKey(netip.MustParseAddr("2001:db8:1:2::1")), clientKey(netip.MustParseAddr("192.0.2.7"))} {
		set, elem := banElement(client, 30*time.Second)
		for i := 0; i < 2; i++ { // a second ban of the same client must not fail
			if out, err := run("", "add", "element", "inet", Table, set, elem); err != nil {
				t.Fatalf("add element %s %s: %v: %s", set, elem, err, out)
			}
		}
	}
	for addr, want := range map[string]bool{
		"2001:db8:1:2::1": true, "2001:db8:1:2:abcd::9": true, "2001:db8:1:3::1": false,
		"192.0.2.7": true, "192.0.2.8": false,
	} {
		set := "banned_v4"
		if netip.MustParseAddr(addr).Is6() {
			set = "banned_v6"
		}
		_, err := run("", "get", "element", "inet", Table, set, "{ "+addr+" }")
		if got := err == nil; got != want {
			t.Errorf("%s in %s: %v, want %v", addr, set, got, want)
		}
	}
}
