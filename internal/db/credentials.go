package db

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Account is one database user and its password.
type Account struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

// Credentials are the site's database users, each with the least privilege
// its job needs: App owns the application's database only, Monitor may read
// server status only, Replication may only stream the binlog (primary-replica).
// Galera's state transfer (rsync) needs no database user.
//
// One file serves every server of the site, like the CA: when servers run
// on separate machines, copy it with the CA.
type Credentials struct {
	App         Account `json:"app"`
	Monitor     Account `json:"monitor"`
	Replication Account `json:"replication"`
}

// CredentialsPath is where the site's credentials live in a state directory.
func CredentialsPath(stateDir string) string {
	return filepath.Join(stateDir, "db", "credentials.json")
}

// LoadCredentials reads the credentials at path, creating them with fresh
// random passwords when the file does not exist. The file is mode 0600.
// Servers that start together agree: the first to create the file wins and
// the others read it.
func LoadCredentials(path string) (*Credentials, error) {
	c, err := readCredentials(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return c, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("db credentials: %w", err)
	}
	c = &Credentials{
		App:         Account{User: "app", Password: randomPassword()},
		Monitor:     Account{User: "monitor", Password: randomPassword()},
		Replication: Account{User: "repl", Password: randomPassword()},
	}
	data, _ := json.MarshalIndent(c, "", "  ")
	tmp, err := os.CreateTemp(filepath.Dir(path), ".credentials-*")
	if err != nil {
		return nil, fmt.Errorf("db credentials: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("db credentials: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("db credentials: %w", err)
	}
	// Link fails if another server created the file meanwhile; then theirs
	// is the one every server uses.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("db credentials: %w", err)
	}
	return readCredentials(path)
}

func readCredentials(path string) (*Credentials, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		// Passwords must not be readable by other users; fix what a copy
		// by hand may have loosened.
		if err := os.Chmod(path, 0o600); err != nil {
			return nil, fmt.Errorf("db credentials %s: mode %v: %w", path, st.Mode().Perm(), err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c Credentials
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("db credentials %s: %w", path, err)
	}
	for _, a := range []Account{c.App, c.Monitor, c.Replication} {
		if a.User == "" || a.Password == "" {
			return nil, fmt.Errorf("db credentials %s: every account needs a user and a password", path)
		}
	}
	return &c, nil
}

func randomPassword() string {
	b := make([]byte, 18)
	rand.Read(b)
	return hex.EncodeToString(b)
}
