package db

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// appPrivileges are what the application may do, in its own database only.
const appPrivileges = "SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, " +
	"CREATE TEMPORARY TABLES, LOCK TABLES, REFERENCES, CREATE VIEW, SHOW VIEW, TRIGGER"

// setup makes the database and its users match the topology and the
// credentials, and on a replica starts replication. Every statement is
// idempotent, so it runs at every start.
func (s *Server) setup(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := s.local.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if s.role == RoleReplica {
		// The primary's own statements create the same users through the
		// binlog; these must stay out of the replica's GTID history, or
		// gtid_strict_mode would stop replication.
		if _, err := conn.ExecContext(ctx, "SET SESSION sql_log_bin=0"); err != nil {
			return err
		}
	}
	c := s.cfg.Credentials
	var stmts []string
	stmts = append(stmts, "CREATE DATABASE IF NOT EXISTS "+quoteIdent(s.topo.Database.Name))
	stmts = append(stmts, userStatements(c.App)...)
	stmts = append(stmts, fmt.Sprintf("GRANT %s ON %s.* TO %s", appPrivileges, quoteIdent(s.topo.Database.Name), userAt(c.App)))
	stmts = append(stmts, userStatements(c.Monitor)...)
	if s.role != RoleGalera {
		stmts = append(stmts, userStatements(c.Replication)...)
		stmts = append(stmts, "GRANT REPLICATION SLAVE ON *.* TO "+userAt(c.Replication))
	}
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", redact(q), err)
		}
	}
	if s.role == RoleReplica {
		return s.replicate(ctx, conn)
	}
	return nil
}

// userAt names a user at any host: the password and a certificate from the
// site CA decide, since connections may come through a router or NAT.
func userAt(a Account) string { return quoteString(a.User) + "@'%'" }

// userStatements create a user, or bring an existing one up to date, that
// may only connect with TLS and a client certificate from the site CA.
func userStatements(a Account) []string {
	return []string{
		fmt.Sprintf("CREATE USER IF NOT EXISTS %s IDENTIFIED BY %s REQUIRE X509", userAt(a), quoteString(a.Password)),
		fmt.Sprintf("ALTER USER %s IDENTIFIED BY %s REQUIRE X509", userAt(a), quoteString(a.Password)),
	}
}

// redact keeps passwords out of error messages.
func redact(q string) string {
	if i := strings.Index(q, " IDENTIFIED BY "); i >= 0 {
		return q[:i] + " IDENTIFIED BY ..."
	}
	if i := strings.Index(q, "MASTER_PASSWORD="); i >= 0 {
		return q[:i] + "MASTER_PASSWORD=..."
	}
	return q
}

// replicate points the replica at the primary with GTID replication over
// mutual TLS, verifying the primary's certificate by its address, and
// starts it. slave_pos resumes from the last transaction this replica
// applied, whatever the primary's binlog file names.
func (s *Server) replicate(ctx context.Context, conn *sql.Conn) error {
	l, c := s.layout, s.cfg.Credentials.Replication
	change := fmt.Sprintf("CHANGE MASTER TO MASTER_HOST=%s, MASTER_PORT=%d, MASTER_USER=%s, "+
		"MASTER_SSL=1, MASTER_SSL_CA=%s, MASTER_SSL_CERT=%s, MASTER_SSL_KEY=%s, MASTER_SSL_VERIFY_SERVER_CERT=1, "+
		"MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1, MASTER_PASSWORD=%s",
		quoteString(s.primary.Address), s.set.MySQLPort, quoteString(c.User),
		quoteString(l.TLS(fileCA)), quoteString(l.TLS(fileClientCert)), quoteString(l.TLS(fileClientKey)),
		quoteString(c.Password))
	for _, q := range []string{"STOP SLAVE", change, "START SLAVE"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", redact(q), err)
		}
	}
	return nil
}
