package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rampart-dev/rampart/internal/pki"
)

// The environment through which the app role tells an application how to
// reach the database: the local router's address in a go-sql-driver DSN,
// and the files of the mutual TLS that runs through the router to whichever
// db server answers.
const (
	EnvDBDSN     = "RAMPART_DB_DSN"     // user:password@tcp(127.0.0.1:port)/name?tls=rampart
	EnvDBCA      = "RAMPART_DB_CA"      // the site CA, PEM
	EnvDBCert    = "RAMPART_DB_CERT"    // the app server's client certificate, PEM
	EnvDBKey     = "RAMPART_DB_KEY"     // its key, PEM
	EnvDBServers = "RAMPART_DB_SERVERS" // comma-separated identity URIs of the db servers
)

// DBTLSName is the name under which the DSN's TLS config is registered.
const DBTLSName = "rampart"

// dbTLSOnce registers the TLS config once per process, as the driver keeps
// it in a global table.
var dbTLSOnce sync.Mutex

// MySQLConfigFromEnv builds the driver's config from the variables the app
// role sets. ok is false when RAMPART_DB_DSN is unset: the site has no db
// servers.
func MySQLConfigFromEnv(getenv func(string) string) (cfg *mysql.Config, ok bool, err error) {
	dsn := getenv(EnvDBDSN)
	if dsn == "" {
		return nil, false, nil
	}
	tlsCfg, err := dbClientTLS(getenv(EnvDBCA), getenv(EnvDBCert), getenv(EnvDBKey), getenv(EnvDBServers))
	if err != nil {
		return nil, true, err
	}
	dbTLSOnce.Lock()
	err = mysql.RegisterTLSConfig(DBTLSName, tlsCfg)
	dbTLSOnce.Unlock()
	if err != nil {
		return nil, true, err
	}
	cfg, err = mysql.ParseDSN(dsn)
	if err != nil {
		return nil, true, fmt.Errorf("%s: %w", EnvDBDSN, err)
	}
	return cfg, true, nil
}

// dbClientTLS returns a config that presents the app server's certificate
// and accepts only a db server of the site. The router's loopback address is
// in no certificate, so the check is by CA and identity, not by name.
func dbClientTLS(caFile, certFile, keyFile, servers string) (*tls.Config, error) {
	if caFile == "" || certFile == "" || keyFile == "" || servers == "" {
		return nil, fmt.Errorf("%s, %s, %s and %s must all be set", EnvDBCA, EnvDBCert, EnvDBKey, EnvDBServers)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate", caFile)
	}
	// The app server rewrites the files when its certificate is renewed;
	// each new connection presents what they hold then.
	cert, err := pki.LoadFileCertificate(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	allowed := strings.Split(servers, ",")
	return &tls.Config{
		MinVersion:           tls.VersionTLS12,
		GetClientCertificate: cert.GetClientCertificate,
		// Verification happens in VerifyConnection, by CA and identity.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("db server sent no certificate")
			}
			leaf := cs.PeerCertificates[0]
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
				return fmt.Errorf("db server certificate: %w", err)
			}
			for _, u := range leaf.URIs {
				if slices.Contains(allowed, u.String()) {
					return nil
				}
			}
			return fmt.Errorf("db server certificate %q is not one of the site's db servers", leaf.Subject.CommonName)
		},
	}, nil
}

// MySQLStore keeps the guestbook in MariaDB, shared by every app server,
// and tells which db server answered each call.
type MySQLStore struct {
	db *sql.DB

	mu     sync.Mutex
	schema bool // the table is known to exist
}

// NewMySQLStore returns a store over cfg. It connects lazily, so the demo
// starts even while the database is still coming up.
func NewMySQLStore(cfg *mysql.Config) (*MySQLStore, error) {
	cfg = cfg.Clone()
	cfg.ParseTime, cfg.Loc = true, time.UTC
	if cfg.Timeout == 0 {
		cfg.Timeout = 3 * time.Second
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = 10 * time.Second
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(8)
	// Connections drift back to the preferred db server when they renew.
	db.SetConnMaxLifetime(time.Minute)
	return &MySQLStore{db: db}, nil
}

// Close closes the store's connections.
func (m *MySQLStore) Close() error { return m.db.Close() }

// Kind returns "mariadb".
func (m *MySQLStore) Kind() string { return "mariadb" }

// ensureSchema creates the table on first use.
func (m *MySQLStore) ensureSchema(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.schema {
		return nil
	}
	_, err := m.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS guestbook (
		id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
		name VARCHAR(64) NOT NULL,
		message VARCHAR(500) NOT NULL,
		created DATETIME NOT NULL
	) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`)
	if err != nil {
		return fmt.Errorf("create table: %w", err)
	}
	m.schema = true
	return nil
}

// List returns the newest entries, newest first.
func (m *MySQLStore) List(ctx context.Context) ([]Entry, error) {
	entries, _, err := m.ListFrom(ctx)
	return entries, err
}

// ListFrom is List, and names the db server that answered.
func (m *MySQLStore) ListFrom(ctx context.Context) ([]Entry, string, error) {
	if err := m.ensureSchema(ctx); err != nil {
		return nil, "", err
	}
	conn, err := m.db.Conn(ctx)
	if err != nil {
		return nil, "", err
	}
	defer conn.Close()
	var server string
	if err := conn.QueryRowContext(ctx, "SELECT @@report_host").Scan(&server); err != nil {
		return nil, "", err
	}
	rows, err := conn.QueryContext(ctx, "SELECT id, name, message, created FROM guestbook ORDER BY id DESC LIMIT ?", memoryStoreMax)
	if err != nil {
		return nil, server, err
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		if err := rows.Scan(&e.ID, &e.Name, &e.Message, &e.Time); err != nil {
			return nil, server, err
		}
		out = append(out, e)
	}
	return out, server, rows.Err()
}

// Add stores e and returns it with its ID.
func (m *MySQLStore) Add(ctx context.Context, e Entry) (Entry, error) {
	e, _, err := m.AddTo(ctx, e)
	return e, err
}

// AddTo is Add, and names the db server that committed the entry. A nil
// error means the commit was acknowledged: under Galera, certified by the
// whole cluster.
func (m *MySQLStore) AddTo(ctx context.Context, e Entry) (Entry, string, error) {
	if err := m.ensureSchema(ctx); err != nil {
		return Entry{}, "", err
	}
	if e.Time.IsZero() {
		e.Time = time.Now().UTC().Truncate(time.Second)
	}
	conn, err := m.db.Conn(ctx)
	if err != nil {
		return Entry{}, "", err
	}
	defer conn.Close()
	res, err := conn.ExecContext(ctx, "INSERT INTO guestbook (name, message, created) VALUES (?, ?, ?)", e.Name, e.Message, e.Time)
	if err != nil {
		return Entry{}, "", err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return Entry{}, "", err
	}
	e.ID = id
	var server string
	// Asked after the commit, on the same connection: a failure here does
	// not undo the acknowledged write.
	conn.QueryRowContext(ctx, "SELECT @@report_host").Scan(&server)
	return e, server, nil
}
