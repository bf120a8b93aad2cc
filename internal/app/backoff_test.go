package app

import (
	"testing"
	"time"
)

func TestBackoffDoublesUpToMaxAndResets(t *testing.T) {
	b := backoff{min: 200 * time.Millisecond, max: time.Second}
	want := []time.Duration{200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := b.next(); got != w*time.Millisecond {
			t.Fatalf("delay %d = %v, want %v", i, got, w*time.Millisecond)
		}
	}
	b.reset()
	if got := b.next(); got != 200*time.Millisecond {
		t.Fatalf("after reset: %v, want 200ms", got)
	}
}
