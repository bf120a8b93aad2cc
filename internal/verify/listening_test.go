package verify

import (
	"net"
	"net/netip"
	"slices"
	"testing"
)

func TestParseProcAddr(t *testing.T) {
	cases := map[string]string{
		"0100007F:1F90":                         "127.0.0.1:8080",
		"0201007F:01BB":                         "127.0.1.2:443",
		"00000000000000000000000001000000:0016": "[::1]:22",
	}
	for in, want := range cases {
		got, ok := parseProcAddr(in)
		if !ok || got.String() != want {
			t.Errorf("parseProcAddr(%q) = %v, want %s", in, got, want)
		}
	}
}

func TestListeningFindsAListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.33.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	want := netip.MustParseAddrPort(ln.Addr().String())
	if !slices.Contains(listening("/proc/net"), want) {
		t.Fatalf("%s not among the listening sockets", want)
	}
}
