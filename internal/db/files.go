package db

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
)

// account is the OS user that mariadbd and its helpers run as.
type account struct {
	Name     string
	UID, GID int
	// Drop is set when rampart runs as root and must switch to the account.
	Drop bool
}

// mysqlUser is the unprivileged account Debian's mariadb-server creates.
const mysqlUser = "mysql"

// runAccount returns the mysql user when rampart runs as root, and the
// current user otherwise (which is then unprivileged already).
func runAccount() (account, error) {
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			return account{}, err
		}
		return account{Name: u.Username, UID: os.Geteuid(), GID: os.Getegid()}, nil
	}
	u, err := user.Lookup(mysqlUser)
	if err != nil {
		return account{}, fmt.Errorf("user %q not found (is mariadb-server installed? scripts/install-deps installs it): %w", mysqlUser, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return account{Name: u.Username, UID: uid, GID: gid, Drop: true}, nil
}

// ensureDirs creates the layout's directories, owned by the account and
// closed to everyone else.
func ensureDirs(l Layout, a account) error {
	for _, d := range []string{l.Dir, l.Data(), l.Tmp(), filepath.Dir(l.TLS(fileCA))} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return err
		}
		if err := os.Chmod(d, 0o750); err != nil {
			return err
		}
		if err := os.Lchown(d, a.UID, a.GID); err != nil {
			return err
		}
	}
	return nil
}

// tlsFiles are the certificates a Server writes for mariadbd.
type tlsFiles struct {
	CA                   *x509.Certificate
	Server, Client, Peer tls.Certificate
}

// write puts every certificate and key in the layout's tls directory, mode
// 0600 and owned by the account, since mariadbd reads them after it has
// dropped root.
func (f tlsFiles) write(l Layout, a account) error {
	put := func(name string, data []byte) error {
		return writeOwned(l.TLS(name), data, 0o600, a)
	}
	if err := put(fileCA, pemBlock("CERTIFICATE", f.CA.Raw)); err != nil {
		return err
	}
	for _, p := range []struct {
		cert     tls.Certificate
		crt, key string
	}{
		{f.Server, fileServerCert, fileServerKey},
		{f.Client, fileClientCert, fileClientKey},
		{f.Peer, filePeerCert, filePeerKey},
	} {
		var chain []byte
		for _, der := range p.cert.Certificate {
			chain = append(chain, pemBlock("CERTIFICATE", der)...)
		}
		key, err := x509.MarshalPKCS8PrivateKey(p.cert.PrivateKey)
		if err != nil {
			return fmt.Errorf("%s: %w", p.key, err)
		}
		if err := put(p.crt, chain); err != nil {
			return err
		}
		if err := put(p.key, pemBlock("PRIVATE KEY", key)); err != nil {
			return err
		}
	}
	return nil
}

func pemBlock(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}

// writeOwned writes data to path atomically with mode perm, owned by a.
func writeOwned(path string, data []byte, perm os.FileMode, a account) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	if err := os.Chmod(tmp, perm); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Lchown(tmp, a.UID, a.GID); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// writeFileAtomic replaces path with data, keeping the file's owner.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	uid, gid := os.Getuid(), os.Getgid()
	if st, err := os.Stat(path); err == nil {
		if sys, ok := statOwner(st); ok {
			uid, gid = sys[0], sys[1]
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return writeOwned(path, data, perm, account{UID: uid, GID: gid})
}

// ClientTLSFiles are the PEM files a program needs to reach the db servers
// with mutual TLS: the site CA, and a client certificate and key.
type ClientTLSFiles struct{ CA, Cert, Key string }

// WriteClientTLS writes ca and cert into dir, mode 0600, owned by the user
// running rampart, for the application of an app server.
func WriteClientTLS(dir string, ca *x509.Certificate, cert tls.Certificate) (ClientTLSFiles, error) {
	f := ClientTLSFiles{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "client.pem"), Key: filepath.Join(dir, "client-key.pem")}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return f, err
	}
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return f, err
	}
	var chain []byte
	for _, der := range cert.Certificate {
		chain = append(chain, pemBlock("CERTIFICATE", der)...)
	}
	self := account{UID: os.Getuid(), GID: os.Getgid()}
	for path, data := range map[string][]byte{f.CA: pemBlock("CERTIFICATE", ca.Raw), f.Cert: chain, f.Key: pemBlock("PRIVATE KEY", key)} {
		if err := writeOwned(path, data, 0o600, self); err != nil {
			return f, err
		}
	}
	return f, nil
}
