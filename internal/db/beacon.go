package db

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// beaconProto is the ALPN protocol of the beacon. mariadbd's Galera port
// speaks TLS without ALPN, so a handshake that does not agree on it was
// answered by a running node.
const beaconProto = "rampart-galera-state/1"

// beacon answers on a stopped node's Galera port with the node's Report. It
// uses the port only while mariadbd does not, so nodes can compare positions
// over the one path the flows open between them, with the same mutual TLS.
type beacon struct {
	ln     net.Listener
	report []byte
	log    *slog.Logger
	wg     sync.WaitGroup
}

// startBeacon listens on addr. serverTLS must require a client certificate
// of a db peer.
func startBeacon(addr string, serverTLS *tls.Config, r Report, log *slog.Logger) (*beacon, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	cfg := serverTLS.Clone()
	cfg.NextProtos = []string{beaconProto}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	b := &beacon{ln: tls.NewListener(ln, cfg), report: append(data, '\n'), log: log}
	b.wg.Add(1)
	go b.serve()
	return b, nil
}

func (b *beacon) serve() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			defer c.Close()
			c.SetDeadline(time.Now().Add(2 * time.Second))
			tc := c.(*tls.Conn)
			if err := tc.Handshake(); err != nil {
				// A peer's mariadbd still reconnecting to this address ends
				// here too; that is expected while this node is down.
				b.log.Debug("db: beacon handshake failed", "remote", c.RemoteAddr().String(), "err", err)
				return
			}
			if tc.ConnectionState().NegotiatedProtocol == beaconProto {
				c.Write(b.report)
			}
		}()
	}
}

// Close stops answering and waits for open answers, so the port is free for
// mariadbd when it returns.
func (b *beacon) Close() {
	b.ln.Close()
	b.wg.Wait()
}

// probe asks the peer at addr about its state. clientTLS must verify that
// the peer is the db server name. A refused or silent port gives an empty
// state (neither Live nor a Report).
func probe(ctx context.Context, name, addr string, clientTLS *tls.Config, local *net.TCPAddr) peerState {
	st := peerState{Name: name}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	cfg := clientTLS.Clone()
	cfg.NextProtos = []string{beaconProto}
	if host, _, err := net.SplitHostPort(addr); err == nil {
		cfg.ServerName = host
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{LocalAddr: local}, Config: cfg}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return st
	}
	defer c.Close()
	tc := c.(*tls.Conn)
	if tc.ConnectionState().NegotiatedProtocol != beaconProto {
		st.Live = true
		return st
	}
	deadline, _ := ctx.Deadline()
	c.SetReadDeadline(deadline)
	data, err := io.ReadAll(io.LimitReader(c, 4096))
	if err != nil && !errors.Is(err, io.EOF) {
		return st
	}
	var r Report
	if json.Unmarshal(data, &r) != nil || r.Name != name {
		return st
	}
	st.Report = &r
	return st
}
