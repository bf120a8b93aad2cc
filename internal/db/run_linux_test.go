package db

import (
	"os"
	"path/filepath"
	"testing"
)

func TestHiddenAncestorIsTheTopmostDirectoryTheAccountCannotEnter(t *testing.T) {
	base := t.TempDir() // mode 0700, owned by the test's user
	os.Chmod(filepath.Dir(base), 0o755)
	os.Chmod(base, 0o755)
	private := filepath.Join(base, "state")
	dir := filepath.Join(private, "servers", "db-1", "db")
	os.MkdirAll(dir, 0o755)
	os.Chmod(private, 0o700)
	other := account{UID: os.Getuid() + 4242, GID: os.Getgid() + 4242}
	got, err := hiddenAncestor(dir, other)
	if err != nil || got != private {
		t.Errorf("hiddenAncestor = %q, %v; want %q", got, err, private)
	}
	os.Chmod(private, 0o711)
	if got, err := hiddenAncestor(dir, other); err != nil || got != "" {
		t.Errorf("with every ancestor searchable: %q, %v; want none", got, err)
	}
	self := account{UID: os.Getuid(), GID: os.Getgid()}
	os.Chmod(private, 0o700)
	if got, _ := hiddenAncestor(dir, self); got != "" {
		t.Errorf("the owner can enter %q", got)
	}
}
