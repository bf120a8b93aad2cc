package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rampart-dev/rampart/internal/monitor"
	"github.com/rampart-dev/rampart/internal/pki"
	"github.com/rampart-dev/rampart/internal/topology"
)

func runExport(args []string) error {
	if len(args) == 0 || args[0] != "prometheus" {
		return errors.New("export: say what to export: rampart export prometheus -o DIR")
	}
	fs := flag.NewFlagSet("export prometheus", flag.ContinueOnError)
	var site siteFlags
	site.register(fs)
	out := fs.String("o", "", "`directory` to write prometheus.yml and rampart-rules.yml into")
	if _, err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("export prometheus: -o DIR is required")
	}
	// The running site's resolved topology, unless a file or preset is named.
	var t *topology.Topology
	var err error
	if site.file != "" || site.preset != "" {
		t, err = site.load("")
	} else {
		t, _, err = runningSite(site.state)
	}
	if err != nil {
		return err
	}
	// Prometheus needs the files to exist; the admin certificate is issued
	// here when `up` has not done it yet.
	ca, err := pki.OpenCA(filepath.Join(site.state, "pki"), t.Site.Domain)
	if err != nil {
		return err
	}
	if _, err := ca.Admin(); err != nil {
		return err
	}
	pkiDir, err := filepath.Abs(filepath.Dir(ca.CertPath))
	if err != nil {
		return err
	}
	files := monitor.TLSFiles{
		CA:   filepath.Join(pkiDir, "ca.crt"),
		Cert: filepath.Join(pkiDir, "admin.client.crt"),
		Key:  filepath.Join(pkiDir, "admin.client.key"),
	}
	paths, err := monitor.ExportPrometheus(t, *out, files)
	if err != nil {
		return err
	}
	for _, p := range paths {
		fmt.Fprintf(os.Stdout, "wrote %s\n", p)
	}
	fmt.Fprintf(os.Stdout, "check them with: promtool check config %s\n", paths[0])
	return nil
}
