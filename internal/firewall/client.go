package firewall

import "net/netip"

// clientKey is who the lb's limits and bans count: an IPv4 address, or the
// /64 an IPv6 address is in. One IPv6 host is usually given a whole /64,
// so counting single IPv6 addresses would let a client escape a limit or a
// ban by moving to its next address.
func clientKey(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p
	}
	return netip.PrefixFrom(a, a.BitLen())
}

// clientString names a client in logs: the address for IPv4, the /64 for
// IPv6.
func clientString(k netip.Prefix) string {
	if k.Addr().Is4() {
		return k.Addr().String()
	}
	return k.String()
}
