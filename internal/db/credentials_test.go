package db

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestCredentialsAreCreatedOncePrivateAndShared(t *testing.T) {
	path := CredentialsPath(t.TempDir())
	// Servers that start together must all end up with the same passwords.
	var wg sync.WaitGroup
	got := make([]*Credentials, 8)
	errs := make([]error, 8)
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i], errs[i] = LoadCredentials(path) }()
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if *got[i] != *got[0] {
			t.Fatalf("load %d got other credentials than load 0", i)
		}
	}
	c := got[0]
	if c.App.User != "app" || c.Monitor.User != "monitor" || c.Replication.User != "repl" {
		t.Errorf("users %q %q %q", c.App.User, c.Monitor.User, c.Replication.User)
	}
	if c.App.Password == c.Monitor.Password || len(c.App.Password) < 32 {
		t.Errorf("passwords are not distinct and long: %+v", c)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".credentials-*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	os.Chmod(path, 0o644)
	again, err := LoadCredentials(path)
	if err != nil || *again != *c {
		t.Fatalf("reload: %v", err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("a loosened file stays %v, want it made 0600 again", st.Mode().Perm())
	}
}

func TestCredentialsRejectAFileWithoutPasswords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credentials.json")
	os.WriteFile(path, []byte(`{"app": {"user": "app"}}`), 0o600)
	if _, err := LoadCredentials(path); err == nil {
		t.Error("loaded credentials without passwords")
	}
}
