package app

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// maxLogSize is the size at which the program's log is rotated.
const maxLogSize = 10 << 20

// logFile appends to a file and, once it would pass maxSize, renames it to
// path+".1" (replacing the previous one) and starts a new file, so a chatty
// program uses at most about twice maxSize of disk.
type logFile struct {
	path    string
	maxSize int64

	mu   sync.Mutex
	f    *os.File
	size int64
}

func openLogFile(path string, maxSize int64) (*logFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("log directory: %w", err)
	}
	l := &logFile{path: path, maxSize: maxSize}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *logFile) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	l.f, l.size = f, info.Size()
	return nil
}

// Write appends p, rotating first if p would take the file past maxSize.
// A single write is never split across files.
func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.size > 0 && l.size+int64(len(p)) > l.maxSize {
		if err := l.rotate(); err != nil {
			return 0, fmt.Errorf("rotate %s: %w", l.path, err)
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	return n, err
}

func (l *logFile) rotate() error {
	if err := l.f.Close(); err != nil {
		return err
	}
	if err := os.Rename(l.path, l.path+".1"); err != nil {
		return err
	}
	return l.open()
}

func (l *logFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}
