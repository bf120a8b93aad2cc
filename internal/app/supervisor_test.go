//go:build unix

package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// processGone reports whether pid has exited. A zombie counts as gone: it
// runs nothing, and an init that does not reap is not ours to fix.
func processGone(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return os.IsNotExist(err) || syscall.Kill(pid, 0) != nil
	}
	// The state follows the command name, which is in parentheses.
	i := strings.LastIndexByte(string(stat), ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

// logRecorder is a slog handler that keeps every record for inspection.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r.Clone())
	return nil
}

// values returns the attribute key of every record with message msg.
func (l *logRecorder) values(msg, key string) []slog.Value {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []slog.Value
	for _, r := range l.records {
		if r.Message != msg {
			continue
		}
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == key {
				out = append(out, a.Value)
			}
			return true
		})
	}
	return out
}

// startSupervisor runs a Supervisor for cfg until the test ends and returns
// it with a function that stops it and returns Run's error.
func startSupervisor(t *testing.T, cfg Config) (*Supervisor, func() error) {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "app-1"
	}
	if cfg.Addr == "" {
		cfg.Addr = freeAddr(t)
	}
	if cfg.LogPath == "" {
		cfg.LogPath = filepath.Join(t.TempDir(), "app.log")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := NewSupervisor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stop := sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return 10s after its context ended")
			return nil
		}
	})
	t.Cleanup(func() { stop() })
	return s, stop
}

func httpChild(t *testing.T, env ...string) Config {
	return Config{
		Command: []string{testBinary(t), "-test.run=^$"},
		Env:     append([]string{childMode + "=http"}, env...),
	}
}

func getString(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestNewSupervisorRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no command":            {Addr: "127.0.0.1:8080", LogPath: "app.log"},
		"empty program":         {Command: []string{""}, Addr: "127.0.0.1:8080", LogPath: "app.log"},
		"address without port":  {Command: []string{"true"}, Addr: "127.0.0.1", LogPath: "app.log"},
		"no log path":           {Command: []string{"true"}, Addr: "127.0.0.1:8080"},
		"max backoff below min": {Command: []string{"true"}, Addr: ":8080", LogPath: "app.log", MinBackoff: time.Second, MaxBackoff: time.Millisecond},
	} {
		if _, err := NewSupervisor(cfg); err == nil {
			t.Errorf("%s: NewSupervisor succeeded", name)
		}
	}
}

func TestProgramThatCannotStartIsAnError(t *testing.T) {
	s, err := NewSupervisor(Config{Name: "app-1", Command: []string{"/nonexistent/program"}, Addr: freeAddr(t), LogPath: filepath.Join(t.TempDir(), "app.log")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Run(ctx); err == nil || !strings.Contains(err.Error(), "/nonexistent/program") {
		t.Fatalf("Run = %v, want an error naming the program", err)
	}
}

func TestExitingProgramIsRestartedWithGrowingBackoff(t *testing.T) {
	logs := &logRecorder{}
	s, stop := startSupervisor(t, Config{
		Command:    []string{"sh", "-c", "exit 3"},
		MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 40 * time.Millisecond,
		Logger:     slog.New(logs),
	})
	eventually(t, 10*time.Second, "4 restarts", func() bool { return s.Restarts() >= 4 })
	stop()

	var got []time.Duration
	for _, v := range logs.values("app restart scheduled", "backoff") {
		got = append(got, v.Duration())
	}
	want := []time.Duration{10, 20, 40, 40}
	if len(got) < len(want) {
		t.Fatalf("backoffs %v, want at least %d", got, len(want))
	}
	for i, w := range want {
		if got[i] != w*time.Millisecond {
			t.Fatalf("backoffs %v, want to start %v ms", got, want)
		}
	}
	if codes := logs.values("app exited", "code"); len(codes) == 0 || codes[0].Int64() != 3 {
		t.Fatalf("exit codes logged: %v, want 3", codes)
	}
	if pids := logs.values("app started", "pid"); len(pids) < 5 {
		t.Fatalf("logged %d starts with a pid, want at least 5", len(pids))
	}
}

func TestProgramOutputIsAppendedToLogPath(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "logs", "app", "app.log")
	s, stop := startSupervisor(t, Config{
		Command:    []string{"sh", "-c", "echo to-stdout; echo to-stderr >&2"},
		LogPath:    logPath,
		MinBackoff: 10 * time.Millisecond,
	})
	eventually(t, 10*time.Second, "two runs to finish", func() bool { return s.Restarts() >= 2 })
	stop()
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	for _, want := range []string{"to-stdout\n", "to-stderr\n", "started pid", "exit status 0"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if n := strings.Count(log, "to-stdout\n"); n < 2 {
		t.Errorf("log has the output of %d runs, want every run appended", n)
	}
}

func TestProgramGetsItsAddressAndNameButNotRampartsEnvironment(t *testing.T) {
	t.Setenv("RAMPART_TEST_PARENT_SECRET", "hunter2")
	addr := freeAddr(t)
	cfg := httpChild(t, "EXTRA=1", "PORT=1")
	cfg.Name, cfg.Addr = "app-7", addr
	s, _ := startSupervisor(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	var env map[string]string
	if err := json.Unmarshal([]byte(getString(t, "http://"+addr+"/env")), &env); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(addr, ":")
	for k, want := range map[string]string{"HOST": host, "PORT": port, "RAMPART_SERVER": "app-7", "EXTRA": "1", "PATH": os.Getenv("PATH")} {
		if env[k] != want {
			t.Errorf("child %s = %q, want %q", k, env[k], want)
		}
	}
	if v, ok := env["RAMPART_TEST_PARENT_SECRET"]; ok {
		t.Errorf("child inherited rampart's environment: %q", v)
	}
}

func TestReadyOnlyOnceTheProgramListens(t *testing.T) {
	gate := filepath.Join(t.TempDir(), "gate")
	s, _ := startSupervisor(t, httpChild(t, "GATE="+gate))
	time.Sleep(300 * time.Millisecond)
	if s.Ready() {
		t.Fatal("Ready before the program listens")
	}
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.WaitReady(short); err == nil {
		t.Fatal("WaitReady returned nil before the program listens")
	}
	os.WriteFile(gate, nil, 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if !s.Ready() {
		t.Fatal("Ready = false after WaitReady")
	}
}

func TestKilledProgramIsRestartedAndNotReadyMeanwhile(t *testing.T) {
	cfg := httpChild(t)
	cfg.MinBackoff = time.Second
	s, _ := startSupervisor(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	url := "http://" + s.cfg.Addr + "/pid"
	first, _ := strconv.Atoi(getString(t, url))
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "Ready to turn false", func() bool { return !s.Ready() })
	eventually(t, 10*time.Second, "a restart", func() bool { return s.Restarts() == 1 })
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if second, _ := strconv.Atoi(getString(t, url)); second == first || second == 0 {
		t.Fatalf("after SIGKILL of pid %d the program answers as pid %d", first, second)
	}
}

// groupPids starts a program that runs a background sleep and returns the
// pids of the program and of the sleep.
func groupPids(t *testing.T, cfg Config, script string) (*Supervisor, func() error, [2]int) {
	t.Helper()
	pidFile := filepath.Join(t.TempDir(), "pids")
	cfg.Command = []string{"sh", "-c", script, "sh", pidFile}
	s, stop := startSupervisor(t, cfg)
	var pids [2]int
	eventually(t, 10*time.Second, "the pid file", func() bool {
		b, _ := os.ReadFile(pidFile)
		f := strings.Fields(string(b))
		if len(f) != 2 {
			return false
		}
		pids[0], _ = strconv.Atoi(f[0])
		pids[1], _ = strconv.Atoi(f[1])
		return true
	})
	return s, stop, pids
}

func TestCancelStopsTheProgramAndItsProcessGroup(t *testing.T) {
	_, stop, pids := groupPids(t, Config{}, `sleep 300 & echo $$ $! > "$1.tmp" && mv "$1.tmp" "$1"; wait`)
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("stopping a program that obeys SIGTERM took %v", took)
	}
	for _, pid := range pids {
		eventually(t, 2*time.Second, "pid "+strconv.Itoa(pid)+" to be gone", func() bool { return processGone(pid) })
	}
}

func TestProgramIgnoringSIGTERMIsKilledAfterStopTimeout(t *testing.T) {
	_, stop, pids := groupPids(t, Config{StopTimeout: 300 * time.Millisecond},
		`trap '' TERM; sleep 300 & echo $$ $! > "$1.tmp" && mv "$1.tmp" "$1"; while :; do sleep 1; done`)
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("stopped after %v, before StopTimeout", took)
	}
	for _, pid := range pids {
		eventually(t, 2*time.Second, "pid "+strconv.Itoa(pid)+" to be gone", func() bool { return processGone(pid) })
	}
}

func TestLeftoverGroupMembersAreKilledWhenTheProgramExits(t *testing.T) {
	s, _, pids := groupPids(t, Config{MinBackoff: time.Minute, MaxBackoff: time.Minute},
		`sleep 300 & echo $$ $! > "$1.tmp" && mv "$1.tmp" "$1"; exit 0`)
	eventually(t, 5*time.Second, "the background sleep to be killed", func() bool { return processGone(pids[1]) })
	if s.Restarts() != 0 {
		t.Fatalf("Restarts = %d during a one-minute backoff", s.Restarts())
	}
}

func TestSupervisedDemoAnswersAsItsServer(t *testing.T) {
	s, _ := startSupervisor(t, Config{
		Name:    "app-3",
		Command: []string{testBinary(t), "-test.run=^$"},
		Env:     []string{childMode + "=demo"},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	var who Whoami
	if err := json.Unmarshal([]byte(getString(t, "http://"+s.cfg.Addr+"/api/whoami")), &who); err != nil {
		t.Fatal(err)
	}
	if who.App != "app-3" {
		t.Fatalf("the demo answers as %q, want app-3", who.App)
	}
}
