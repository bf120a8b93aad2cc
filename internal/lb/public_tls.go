package lb

import (
	"crypto/tls"
	"slices"
)

// publicCipherSuites are the TLS 1.2 suites of Mozilla's "intermediate"
// profile: forward-secret ECDHE key exchange with an AEAD cipher only. TLS
// 1.3 suites are not configurable in Go and are all strong.
var publicCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// publicCurves are the key-exchange groups offered, best first. The hybrid
// post-quantum X25519MLKEM768 leads, as in Mozilla's current intermediate
// profile, and costs nothing to clients that do not support it.
var publicCurves = []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256, tls.CurveP384}

// PublicTLS returns a clone of base with the public profile applied: at
// least TLS 1.2, the intermediate TLS 1.2 cipher suites, the curves above,
// and ALPN offering h2 then http/1.1. Certificates and client-certificate
// settings come from base unchanged. A base requiring TLS 1.3 keeps it.
func PublicTLS(base *tls.Config) *tls.Config {
	var c *tls.Config
	if base == nil {
		c = &tls.Config{}
	} else {
		c = base.Clone()
	}
	if c.MinVersion < tls.VersionTLS12 {
		c.MinVersion = tls.VersionTLS12
	}
	if c.MaxVersion != 0 && c.MaxVersion < tls.VersionTLS12 {
		c.MaxVersion = 0
	}
	c.CipherSuites = append([]uint16(nil), publicCipherSuites...)
	c.CurvePreferences = append([]tls.CurveID(nil), publicCurves...)
	// h2 and http/1.1 come first; protocols the base adds (acme-tls/1 for
	// TLS-ALPN-01 challenges) stay after them.
	protos := []string{"h2", "http/1.1"}
	for _, p := range c.NextProtos {
		if !slices.Contains(protos, p) {
			protos = append(protos, p)
		}
	}
	c.NextProtos = protos
	return c
}
