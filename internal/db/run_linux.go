package db

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// execEnv carries an execSpec to a re-executed rampart binary, which sets up
// the mount namespace and becomes the program (see init).
const execEnv = "RAMPART_DB_EXEC"

// markerEnv is set, to the server's directory, in the environment of every
// process started for a Server: mariadbd and, through it, the state transfer
// scripts. It is how strays are told apart from other MariaDB servers.
const markerEnv = "RAMPART_DB_DIR"

// execSpec is what the re-executed binary does before it becomes Path.
type execSpec struct {
	Path string   `json:"path"`
	Args []string `json:"args"`
	// Dir stays reachable at its own path.
	Dir string `json:"dir"`
	// Hide, when set, is the topmost ancestor of Dir that the account may
	// not enter. A tmpfs covers it in the namespace, holding only Dir.
	Hide     string `json:"hide,omitempty"`
	UID, GID int
}

func init() {
	raw, ok := os.LookupEnv(execEnv)
	if !ok {
		return
	}
	err := becomeProgram(raw)
	fmt.Fprintf(os.Stderr, "rampart: db: %v\n", err)
	os.Exit(127)
}

// becomeProgram runs in a fresh process, still root, in its own mount
// namespace (the parent asked for CLONE_NEWNS, and Go made it private). It
// makes the directory reachable, drops to the account and execs the program.
// It returns only on failure.
func becomeProgram(raw string) error {
	var s execSpec
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return fmt.Errorf("bad exec spec: %w", err)
	}
	os.Unsetenv(execEnv)
	if s.Hide != "" {
		fd, err := syscall.Open(s.Dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", s.Dir, err)
		}
		if err := syscall.Mount("tmpfs", s.Hide, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, "mode=0755,size=64k"); err != nil {
			return fmt.Errorf("cover %s: %w", s.Hide, err)
		}
		if err := os.MkdirAll(s.Dir, 0o755); err != nil {
			return fmt.Errorf("mount point %s: %w", s.Dir, err)
		}
		if err := syscall.Mount(fmt.Sprintf("/proc/self/fd/%d", fd), s.Dir, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s: %w", s.Dir, err)
		}
		syscall.Close(fd)
	}
	// mariadbd wants many files; raise the limit while still allowed to.
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: 65536, Max: 65536})
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(s.GID); err != nil {
		return fmt.Errorf("setgid %d: %w", s.GID, err)
	}
	if err := syscall.Setuid(s.UID); err != nil {
		return fmt.Errorf("setuid %d: %w", s.UID, err)
	}
	// Changing credentials cleared the parent-death signal; set it again so
	// mariadbd never outlives rampart, and give up if rampart already died.
	ppid := os.Getppid()
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0); errno != 0 {
		return fmt.Errorf("prctl: %w", errno)
	}
	if ppid == 1 || os.Getppid() != ppid {
		return errors.New("rampart exited before mariadbd started")
	}
	if err := os.Chdir(s.Dir); err != nil {
		return err
	}
	return syscall.Exec(s.Path, s.Args, os.Environ())
}

// runner starts programs for one Server as its account.
type runner struct {
	acct   account
	layout Layout
	hide   string // see execSpec.Hide
	exe    string // this binary, re-executed when root
}

func newRunner(a account, l Layout) (*runner, error) {
	r := &runner{acct: a, layout: l}
	if !a.Drop {
		return r, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	r.exe = exe
	r.hide, err = hiddenAncestor(l.Dir, a)
	return r, err
}

// env is the whole environment of every program: nothing of rampart's own.
func (r *runner) env() []string {
	return []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LC_ALL=C",
		"HOME=" + r.layout.Dir,
		"USER=" + r.acct.Name,
		"LOGNAME=" + r.acct.Name,
		"TMPDIR=" + r.layout.Tmp(),
		markerEnv + "=" + r.layout.Dir,
	}
}

// command returns argv as a command that runs as the account, in its own
// process group, and receives SIGTERM if rampart dies.
func (r *runner) command(argv ...string) (*exec.Cmd, error) {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, fmt.Errorf("%s: %w (scripts/install-deps installs it)", argv[0], err)
	}
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if !r.acct.Drop {
		cmd := exec.Command(path, argv[1:]...)
		cmd.Env, cmd.Dir, cmd.SysProcAttr = r.env(), r.layout.Dir, attr
		return cmd, nil
	}
	spec, _ := json.Marshal(execSpec{Path: path, Args: argv, Dir: r.layout.Dir, Hide: r.hide, UID: r.acct.UID, GID: r.acct.GID})
	attr.Unshareflags = syscall.CLONE_NEWNS
	cmd := &exec.Cmd{Path: r.exe, Args: argv, Env: append(r.env(), execEnv+"="+string(spec)), SysProcAttr: attr}
	return cmd, nil
}

// hiddenAncestor returns the topmost ancestor of dir that account a cannot
// enter, or "" when it can reach dir.
func hiddenAncestor(dir string, a account) (string, error) {
	dir = filepath.Clean(dir)
	if !filepath.IsAbs(dir) {
		return "", fmt.Errorf("%s is not an absolute path", dir)
	}
	parts := strings.Split(strings.TrimPrefix(filepath.Dir(dir), "/"), "/")
	p := "/"
	for _, part := range append([]string{""}, parts...) {
		p = filepath.Join(p, part)
		st, err := os.Stat(p)
		if err != nil {
			return "", err
		}
		if !searchable(st, a) {
			if p == "/" {
				return "", errors.New("the root directory is not searchable")
			}
			return p, nil
		}
	}
	return "", nil
}

// searchable reports whether a may enter the directory, by its mode bits.
func searchable(st fs.FileInfo, a account) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	m := st.Mode().Perm()
	switch {
	case int(sys.Uid) == a.UID:
		return m&0o100 != 0
	case int(sys.Gid) == a.GID:
		return m&0o010 != 0
	default:
		return m&0o001 != 0
	}
}

// statOwner returns the owner uid and gid of a file.
func statOwner(st fs.FileInfo) ([2]int, bool) {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return [2]int{}, false
	}
	return [2]int{int(sys.Uid), int(sys.Gid)}, true
}
