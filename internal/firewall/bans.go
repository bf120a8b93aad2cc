package firewall

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Banner drops a client's traffic for a while in the kernel (NftBans).
// client is an IPv4 address (a /32) or an IPv6 /64 (clientKey).
type Banner interface {
	Ban(ctx context.Context, client netip.Prefix, d time.Duration) error
}

// Bans is the userspace ban list: banned clients are refused by the Guard
// until their ban expires.
type Bans struct {
	mu      sync.Mutex
	until   map[netip.Prefix]time.Time // by clientKey
	total   atomic.Uint64
	expired atomic.Uint64
	// Kernel, when set, also bans in nftables, so the packets never reach
	// the process.
	Kernel Banner
	Log    *slog.Logger
}

// NewBans returns an empty ban list.
func NewBans(log *slog.Logger) *Bans {
	if log == nil {
		log = slog.Default()
	}
	return &Bans{until: map[netip.Prefix]time.Time{}, Log: log}
}

// Ban refuses addr, and for IPv6 the /64 it is in, for d; why is logged.
// The kernel's ban, when there is one, is made in the background, off the
// request path.
func (b *Bans) Ban(ctx context.Context, addr netip.Addr, d time.Duration, why string) {
	k := clientKey(addr)
	b.mu.Lock()
	_, already := b.until[k]
	b.until[k] = time.Now().Add(d)
	b.mu.Unlock()
	if already {
		return
	}
	b.total.Add(1)
	b.Log.Warn("client banned", "client", clientString(k), "for", d, "limit", why)
	if b.Kernel != nil {
		go func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := b.Kernel.Ban(ctx, k, d); err != nil {
				b.Log.Error("kernel ban failed; the userspace ban holds", "client", clientString(k), "err", err)
			}
		}()
	}
}

// Banned reports whether addr is banned now, expiring its ban if it is due.
func (b *Bans) Banned(addr netip.Addr) bool { return b.banned(clientKey(addr)) }

func (b *Bans) banned(k netip.Prefix) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	until, ok := b.until[k]
	if !ok {
		return false
	}
	if time.Now().Before(until) {
		return true
	}
	delete(b.until, k)
	b.expired.Add(1)
	b.Log.Info("client ban expired", "client", clientString(k))
	return false
}

// Active returns the number of bans in force.
func (b *Bans) Active() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	n := 0
	for _, until := range b.until {
		if now.Before(until) {
			n++
		}
	}
	return n
}

// Total returns how many bans were ever made.
func (b *Bans) Total() uint64 { return b.total.Load() }

// Run sweeps expired bans once a second, so their expiry is logged when it
// happens, until ctx ends.
func (b *Bans) Run(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		b.mu.Lock()
		var due []netip.Prefix
		now := time.Now()
		for k, until := range b.until {
			if !now.Before(until) {
				due = append(due, k)
			}
		}
		b.mu.Unlock()
		for _, k := range due {
			b.banned(k) // expires and logs it
		}
	}
}

// Expired returns how many bans have expired.
func (b *Bans) Expired() uint64 { return b.expired.Load() }
