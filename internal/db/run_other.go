//go:build !linux

package db

import (
	"context"
	"errors"
	"io/fs"
	"os/exec"
	"time"
)

// The db role needs Linux: mariadbd's supervision relies on mount
// namespaces, the parent-death signal and /proc.
var errLinuxOnly = errors.New("the db role runs on Linux only")

type runner struct{}

func newRunner(account, Layout) (*runner, error) { return nil, errLinuxOnly }

func (r *runner) command(argv ...string) (*exec.Cmd, error) { return nil, errLinuxOnly }

func strays(string) []int { return nil }

func killStrays(context.Context, string, time.Duration) []int { return nil }

func statOwner(fs.FileInfo) ([2]int, bool) { return [2]int{}, false }
