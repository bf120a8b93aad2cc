package verify

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// Outcome is what one connection attempt found.
type Outcome string

const (
	// Open: the connection was accepted and held, as by a real server.
	Open Outcome = "open"
	// Refused: the kernel answered with a reset: the packet got through to
	// the host, and nothing listens there.
	Refused Outcome = "refused"
	// Dropped: no answer at all, as from a firewall that drops.
	Dropped Outcome = "dropped"
	// Reset: accepted, then closed at once, as by a userspace firewall.
	Reset Outcome = "reset"
	// Unreachable: the network has no way there.
	Unreachable Outcome = "unreachable"
)

// Passed reports whether the firewall let the connection through.
func (o Outcome) Passed() bool { return o == Open || o == Refused }

// Target is one probe to make.
type Target struct {
	Addr string `json:"addr"` // host:port
	// Plaintext also sends a plain HTTP request and reports whether it was
	// served.
	Plaintext bool `json:"plaintext,omitempty"`
}

// Result is one probe's finding.
type Result struct {
	Target
	Outcome         Outcome `json:"outcome"`
	PlaintextServed bool    `json:"plaintext_served,omitempty"`
}

// Probe connects to t.Addr from source (nil: any address).
func Probe(source net.IP, t Target, timeout time.Duration) Result {
	r := Result{Target: t}
	d := net.Dialer{Timeout: timeout}
	if source != nil {
		d.LocalAddr = &net.TCPAddr{IP: source}
	}
	c, err := d.Dial("tcp", t.Addr)
	switch {
	case err == nil:
	case errors.Is(err, syscall.ECONNREFUSED):
		r.Outcome = Refused
		return r
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		r.Outcome = Unreachable
		return r
	default:
		r.Outcome = Dropped
		return r
	}
	defer c.Close()
	// A real server waits for the client, or greets it; a userspace
	// firewall closes the connection at once.
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 1)
	_, err = c.Read(buf)
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		r.Outcome = Reset
		return r
	}
	r.Outcome = Open
	if t.Plaintext {
		r.PlaintextServed = plaintextServed(source, t.Addr, timeout)
	}
	return r
}

// plaintextServed sends a plain HTTP request and reports whether a server
// answered it as HTTP. Go's TLS servers answer plaintext with a 400 that
// says so, which counts as refused.
func plaintextServed(source net.IP, addr string, timeout time.Duration) bool {
	d := net.Dialer{Timeout: timeout}
	if source != nil {
		d.LocalAddr = &net.TCPAddr{IP: source}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * timeout))
	io.WriteString(c, "GET /healthz HTTP/1.0\r\nHost: rampart-verify\r\n\r\n")
	reply, _ := io.ReadAll(io.LimitReader(c, 512))
	return bytes.HasPrefix(reply, []byte("HTTP/")) && !bytes.Contains(reply, []byte("HTTPS server"))
}
