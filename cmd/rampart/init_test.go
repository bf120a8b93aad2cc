package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-dev/rampart/internal/topology"
)

func TestInitWritesAFileThatLoadsAndRefusesToOverwrite(t *testing.T) {
	for _, preset := range topology.PresetNames() {
		out := filepath.Join(t.TempDir(), "rampart.yaml")
		if err := runInit([]string{"--preset", preset, "-o", out}); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(out)
		if !strings.HasPrefix(string(data), "# rampart.yaml") {
			t.Errorf("%s: the file is not commented", preset)
		}
		if _, err := topology.Load(out); err != nil {
			t.Errorf("%s: written file does not load: %v", preset, err)
		}
		err := runInit([]string{"--preset", preset, "-o", out})
		if err == nil || !strings.Contains(err.Error(), "--force") {
			t.Errorf("%s: overwrote without --force (err %v)", preset, err)
		}
		if err := runInit([]string{"--preset", preset, "-o", out, "--force"}); err != nil {
			t.Errorf("%s: --force: %v", preset, err)
		}
	}
	if err := runInit([]string{"--preset", "nope", "-o", filepath.Join(t.TempDir(), "x.yaml")}); err == nil {
		t.Error("an unknown preset was accepted")
	}
}
