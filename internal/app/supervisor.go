package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config describes the program an app server runs.
type Config struct {
	// Name is the app server's name, given to the program as RAMPART_SERVER.
	Name string
	// Command is the program and its arguments. Required.
	Command []string
	// Addr is the host:port the program must listen on. The program finds
	// it in HOST and PORT.
	Addr string
	// Env is added to the program's environment. The program does not
	// inherit rampart's environment, only PATH, HOME, USER, LOGNAME, SHELL,
	// LANG, LC_ALL, LC_CTYPE, TZ and TMPDIR, so rampart's own settings and
	// secrets never reach application code by accident. HOST, PORT and
	// RAMPART_SERVER cannot be overridden.
	Env []string
	// Dir is the program's working directory; empty means rampart's.
	Dir string
	// LogPath receives the program's stdout and stderr, appended, rotated
	// at 10 MiB into LogPath+".1". Its directory is created. Required.
	LogPath string
	// MinBackoff and MaxBackoff bound the exponential delay before a
	// restart. Defaults 200ms and 30s. A program that ran for 10s starts
	// again at MinBackoff.
	MinBackoff, MaxBackoff time.Duration
	// StopTimeout is how long the program may take to exit after SIGTERM
	// before it is killed. Default 5s.
	StopTimeout time.Duration
	// Logger receives starts, exits and restarts.
	Logger *slog.Logger
}

// resetAfter is how long a program must run for its next restart to wait
// only MinBackoff again.
const resetAfter = 10 * time.Second

// inheritedEnv lists the variables the program takes from rampart.
var inheritedEnv = []string{"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR"}

// Supervisor keeps one program running. Its methods are safe for
// concurrent use.
type Supervisor struct {
	cfg  Config
	host string
	port string
	log  *slog.Logger

	restarts atomic.Int64

	mu      sync.Mutex
	ready   bool
	readyCh chan struct{} // closed while ready
}

// NewSupervisor checks cfg and returns a Supervisor that has not started
// anything yet.
func NewSupervisor(cfg Config) (*Supervisor, error) {
	if len(cfg.Command) == 0 || cfg.Command[0] == "" {
		return nil, fmt.Errorf("app %s: Command is required", cfg.Name)
	}
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("app %s: address %q: %w", cfg.Name, cfg.Addr, err)
	}
	if cfg.LogPath == "" {
		return nil, fmt.Errorf("app %s: LogPath is required", cfg.Name)
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 200 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		return nil, fmt.Errorf("app %s: MaxBackoff %v is below MinBackoff %v", cfg.Name, cfg.MaxBackoff, cfg.MinBackoff)
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Supervisor{
		cfg:     cfg,
		host:    host,
		port:    port,
		log:     cfg.Logger.With("server", cfg.Name),
		readyCh: make(chan struct{}),
	}, nil
}

// Run starts the program and starts it again, after a backoff, each time it
// exits, until ctx ends. Then it sends SIGTERM to the program's process
// group, waits up to StopTimeout, sends SIGKILL, and returns nil once the
// program is gone. It returns an error if the log cannot be opened or the
// program cannot be started the first time; later failures to start are
// logged and retried.
func (s *Supervisor) Run(ctx context.Context) error {
	logw, err := openLogFile(s.cfg.LogPath, maxLogSize)
	if err != nil {
		return fmt.Errorf("app %s: %w", s.cfg.Name, err)
	}
	defer logw.Close()

	b := backoff{min: s.cfg.MinBackoff, max: s.cfg.MaxBackoff}
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			s.restarts.Add(1)
		}
		ran, err := s.runOnce(ctx, logw)
		if err != nil && attempt == 0 {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			s.log.Error("app did not start", "err", err)
		}
		if ran >= resetAfter {
			b.reset()
		}
		delay := b.next()
		s.log.Info("app restart scheduled", "backoff", delay, "restarts", s.restarts.Load())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
	}
}

// runOnce runs the program until it exits or ctx ends, and returns how long
// it ran.
func (s *Supervisor) runOnce(ctx context.Context, out *logFile) (time.Duration, error) {
	cmd := exec.Command(s.cfg.Command[0], s.cfg.Command[1:]...)
	cmd.Dir = s.cfg.Dir
	cmd.Env = s.env()
	cmd.Stdout, cmd.Stderr = out, out
	// A grandchild that keeps the output pipe open must not keep Wait from
	// returning after the program itself exited.
	cmd.WaitDelay = time.Second
	inOwnGroup(cmd)

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("app %s: start %s: %w", s.cfg.Name, s.cfg.Command[0], err)
	}
	pid := cmd.Process.Pid
	s.log.Info("app started", "pid", pid, "command", strings.Join(s.cfg.Command, " "), "addr", s.cfg.Addr)
	fmt.Fprintf(out, "=== rampart %s: started pid %d: %s\n", start.Format(time.RFC3339), pid, strings.Join(s.cfg.Command, " "))

	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	var polling sync.WaitGroup
	polling.Go(func() { s.pollReady(exited, start) })

	stopping := false
	select {
	case <-exited:
	case <-ctx.Done():
		stopping = true
		s.stop(pid, exited)
	}
	polling.Wait()
	s.setReady(false)
	// Whatever the program left running in its group, such as a daemonized
	// helper still holding the port, goes with it.
	killGroup(pid)

	ran := time.Since(start)
	state, code := "ended", -1
	if cmd.ProcessState != nil {
		state, code = cmd.ProcessState.String(), cmd.ProcessState.ExitCode()
	}
	fmt.Fprintf(out, "=== rampart %s: pid %d %s after %v\n", time.Now().Format(time.RFC3339), pid, state, ran.Round(time.Millisecond))
	level := slog.LevelWarn
	if stopping {
		level = slog.LevelInfo
	}
	s.log.Log(context.Background(), level, "app exited", "pid", pid, "status", state,
		"code", code, "ran", ran.Round(time.Millisecond))
	return ran, nil
}

// stop ends the program's process group politely, then forcefully.
func (s *Supervisor) stop(pid int, exited <-chan struct{}) {
	s.log.Info("app stopping", "pid", pid, "timeout", s.cfg.StopTimeout)
	terminateGroup(pid)
	t := time.NewTimer(s.cfg.StopTimeout)
	defer t.Stop()
	select {
	case <-exited:
	case <-t.C:
		s.log.Warn("app did not exit after SIGTERM, killing it", "pid", pid, "waited", s.cfg.StopTimeout)
		killGroup(pid)
		<-exited
	}
}

// slowStart is when a program that does not listen yet is reported, in
// case it listens on another address than the one it was given.
const slowStart = 10 * time.Second

// pollReady dials Addr until the program accepts a connection or exits.
func (s *Supervisor) pollReady(exited <-chan struct{}, start time.Time) {
	addr := s.dialAddr()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	slow := time.NewTimer(slowStart)
	defer slow.Stop()
	for {
		select {
		case <-exited:
			return
		case <-slow.C:
			s.log.Warn("app not accepting connections yet", "addr", s.cfg.Addr, "waited", slowStart)
			continue
		case <-tick.C:
		}
		c, err := net.DialTimeout("tcp", addr, 250*time.Millisecond)
		if err != nil {
			continue
		}
		c.Close()
		s.setReady(true)
		s.log.Info("app ready", "addr", s.cfg.Addr, "after", time.Since(start).Round(time.Millisecond))
		return
	}
}

// dialAddr is where to knock to see whether the program listens: an
// unspecified host means it listens on every interface, loopback included.
func (s *Supervisor) dialAddr() string {
	host := s.host
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return net.JoinHostPort(host, s.port)
}

func (s *Supervisor) env() []string {
	var env []string
	for _, k := range inheritedEnv {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	env = append(env, s.cfg.Env...)
	// Later entries win, so the address cannot be overridden by Env.
	return append(env, "HOST="+s.host, "PORT="+s.port, "RAMPART_SERVER="+s.cfg.Name)
}

func (s *Supervisor) setReady(ready bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case ready && !s.ready:
		close(s.readyCh)
	case !ready && s.ready:
		s.readyCh = make(chan struct{})
	}
	s.ready = ready
}

// Restarts returns how many times the program has been started again after
// it exited.
func (s *Supervisor) Restarts() int64 { return s.restarts.Load() }

// Ready reports whether the program is running and has accepted a TCP
// connection on Addr.
func (s *Supervisor) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ready
}

// WaitReady returns nil as soon as the program is ready, or ctx's error.
func (s *Supervisor) WaitReady(ctx context.Context) error {
	s.mu.Lock()
	ch := s.readyCh
	s.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("app %s: waiting for %s: %w", s.cfg.Name, s.cfg.Addr, context.Cause(ctx))
	}
}
