package db

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// process is one running program started by a runner.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once the program has exited
	err    error         // why it exited; read after exited is closed
}

// start runs cmd with its output appended to outPath.
func start(cmd *exec.Cmd, outPath string) (*process, error) {
	out, err := os.OpenFile(outPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, err
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		out.Close()
		close(p.exited)
	}()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM and waits up to grace for a clean exit, then kills.
func (p *process) stop(grace time.Duration) {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// run runs cmd to completion, or until ctx ends, with its output in
// outPath; a failure quotes the output's last line.
func run(ctx context.Context, cmd *exec.Cmd, outPath string) error {
	p, err := start(cmd, outPath)
	if err != nil {
		return err
	}
	select {
	case <-p.exited:
	case <-ctx.Done():
		p.stop(5 * time.Second)
		return ctx.Err()
	}
	if p.err != nil {
		return fmt.Errorf("%v: %s", p.err, lastLine(outPath))
	}
	return nil
}

// lastLine returns the last non-empty line of a log file, which usually
// says why a program stopped.
func lastLine(path string) string {
	return lastLineOf(readTail(path, 0))
}

// lastErrorLine returns the last line of an error log that mariadbd marked
// as an error, else its last line.
func lastErrorLine(log []byte) string {
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], "[ERROR]") {
			return strings.TrimSpace(lines[i])
		}
	}
	return lastLineOf(log)
}

func lastLineOf(data []byte) string {
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) == 0 || lines[len(lines)-1] == "" {
		return "no output"
	}
	return strings.TrimSpace(lines[len(lines)-1])
}

// readTail returns the file's contents from offset on.
func readTail(path string, offset int64) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() < offset {
		offset = 0
	}
	f.Seek(offset, 0)
	data := make([]byte, 0, 64<<10)
	buf := make([]byte, 32<<10)
	for {
		n, err := f.Read(buf)
		data = append(data, buf[:n]...)
		if err != nil {
			return data
		}
	}
}

// fileSize is the size of path, or 0 when it does not exist.
func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}
