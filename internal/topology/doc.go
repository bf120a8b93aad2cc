// Package topology owns rampart.yaml: the model of the site, its two presets
// (seed and ha), validation with file, line and key in every error, and the
// flows derived from it: who talks to whom, on which port, with which
// protection.
//
// The flows are the single source of truth for ports and peers. The
// listeners, the TLS peer checks, the firewall, the design review, verify and
// the dashboard all read them from here. This package must never open a
// socket, read certificates or start anything: it only describes.
package topology
