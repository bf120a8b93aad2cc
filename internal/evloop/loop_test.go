//go:build linux

package evloop

import (
	"testing"
	"time"
)

// TestTasksRunOnTheirLoop: a task knows its loop (Current), an ordinary
// goroutine does not, and the group's loops share tasks out in turn.
func TestTasksRunOnTheirLoop(t *testing.T) {
	g, err := Start(2)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop(time.Second)
	if Current() != nil {
		t.Fatal("Current outside any task is not nil")
	}
	seen := make(chan *Loop, 4)
	for range 4 {
		g.Go(func() { seen <- Current() })
	}
	count := map[*Loop]int{}
	for range 4 {
		select {
		case l := <-seen:
			if l == nil {
				t.Fatal("Current inside a task is nil")
			}
			count[l]++
		case <-time.After(5 * time.Second):
			t.Fatal("a task did not run")
		}
	}
	if len(count) != 2 || count[g.loops[0]] != 2 || count[g.loops[1]] != 2 {
		t.Errorf("tasks per loop: %v, want 2 on each of 2 loops", count)
	}
}

// TestStopWaitsForTasks: Stop reports false while a task still runs, the
// loops end once it does, and a task started after Stop runs as a goroutine.
func TestStopWaitsForTasks(t *testing.T) {
	g, err := Start(1)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	g.Go(func() { <-release })
	if g.Stop(100 * time.Millisecond) {
		t.Fatal("Stop reported every loop ended while a task was still running")
	}
	close(release)
	select {
	case <-g.loops[0].done:
	case <-time.After(5 * time.Second):
		t.Fatal("the loop did not end after its last task")
	}
	if !g.loops[0].Ended() {
		t.Error("Ended is false after the loop ended")
	}
	ran := make(chan *Loop, 1)
	g.Go(func() { ran <- Current() })
	select {
	case l := <-ran:
		if l != nil {
			t.Error("a task started after Stop ran on a loop")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a task started after Stop never ran")
	}
}

func TestStartNeedsALoop(t *testing.T) {
	if _, err := Start(0); err == nil {
		t.Fatal("Start(0) succeeded")
	}
}
