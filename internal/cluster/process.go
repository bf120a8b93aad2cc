package cluster

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// process is one server's `rampart node` child, restarted when it dies.
type process struct {
	name    string
	args    []string
	exe     string
	logPath string
	out     io.Writer // where restarts are announced

	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{} // closed when the current child has exited
	exitErr  error
	stopping bool
	restarts int
}

func (p *process) start() error {
	p.mu.Lock()
	stopping := p.stopping
	p.mu.Unlock()
	if stopping {
		return nil // a restart that lost the race with shutdown
	}
	if err := os.MkdirAll(filepath.Dir(p.logPath), 0o755); err != nil {
		return err
	}
	log, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.exe, p.args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("%s: start: %w", p.name, err)
	}
	exited := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		log.Close()
		p.mu.Lock()
		p.exitErr = err
		p.mu.Unlock()
		close(exited)
	}()
	return nil
}

// supervise restarts the child whenever it exits, with backoff, until ctx
// ends or stop is called.
func (p *process) supervise(ctx context.Context) {
	backoff := 500 * time.Millisecond
	for {
		p.mu.Lock()
		exited := p.exited
		began := time.Now()
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-exited:
		}
		p.mu.Lock()
		if p.stopping {
			p.mu.Unlock()
			return
		}
		err := p.exitErr
		p.restarts++
		p.mu.Unlock()
		if time.Since(began) > 30*time.Second {
			backoff = 500 * time.Millisecond
		}
		fmt.Fprintf(p.out, "  %-10s exited (%v); restarting in %s\n", p.name, err, backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
		if err := p.start(); err != nil {
			fmt.Fprintf(p.out, "  %-10s %v\n", p.name, err)
		}
	}
}

// exitedCh returns the channel closed when the current child exits.
func (p *process) exitedCh() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exited
}

// stop sends SIGTERM, waits up to grace or until hurry is closed, then
// SIGKILLs.
func (p *process) stop(grace time.Duration, hurry <-chan struct{}) {
	p.mu.Lock()
	p.stopping = true
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-hurry:
		cmd.Process.Kill()
		<-exited
	case <-time.After(grace):
		cmd.Process.Kill()
		<-exited
	}
}

// pid is the current child's process ID.
func (p *process) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}
