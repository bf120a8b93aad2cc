package app

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestProgramDiesWhenRampartIsKilled(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	rampart := exec.Command(testBinary(t), "-test.run=^$")
	rampart.Env = append(os.Environ(),
		childMode+"=supervise",
		"LOGPATH="+filepath.Join(dir, "app.log"),
		"COMMAND=echo $$ > "+pidFile+".tmp && mv "+pidFile+".tmp "+pidFile+" && exec sleep 300",
	)
	if err := rampart.Start(); err != nil {
		t.Fatal(err)
	}
	defer rampart.Process.Kill()

	var pid int
	eventually(t, 10*time.Second, "the program's pid", func() bool {
		b, _ := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return pid > 0
	})
	if processGone(pid) {
		t.Fatal("the program is not running")
	}
	rampart.Process.Signal(syscall.SIGKILL)
	rampart.Wait()
	eventually(t, 5*time.Second, "the program to die with rampart", func() bool { return processGone(pid) })
}
