package node

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/db"
	"github.com/rampart-dev/rampart/internal/pki"
)

// TestApplicationClientFilesFollowRenewal: when the server's identity
// renews its client certificate, the files the application connects to
// the database with are written again.
func TestApplicationClientFilesFollowRenewal(t *testing.T) {
	old := pki.RenewCheck
	pki.RenewCheck = 50 * time.Millisecond
	t.Cleanup(func() { pki.RenewCheck = old })

	dir := t.TempDir()
	ca, err := pki.OpenCA(filepath.Join(dir, "pki"), "www.foobar.com")
	if err != nil {
		t.Fatal(err)
	}
	id, err := ca.ServerIdentity("app-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	files, err := db.WriteClientTLS(filepath.Join(dir, "db-client"), ca.Cert, id.CurrentClient())
	if err != nil {
		t.Fatal(err)
	}
	serial := func() string {
		data, err := os.ReadFile(files.Cert)
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(data)
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c.SerialNumber.String()
	}
	first := serial()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go id.Run(ctx)
	go keepClientFiles(ctx, filepath.Dir(files.Cert), ca.Cert, id, slog.New(slog.NewTextHandler(io.Discard, nil)))
	// Renewal, brought forward: without its file the CA issues anew.
	os.Remove(filepath.Join(dir, "pki", "app-1.client.crt"))
	deadline := time.Now().Add(5 * time.Second)
	for serial() == first {
		if time.Now().After(deadline) {
			t.Fatal("the application's client certificate file was not rewritten within 5s of the renewal")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got, want := serial(), id.CurrentClient().Leaf.SerialNumber.String(); got != want {
		t.Fatalf("the file holds %s, the identity presents %s", got, want)
	}
}
