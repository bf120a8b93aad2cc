package app

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLogFileRotatesKeepingOneOldFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "app.log")
	l, err := openLogFile(path, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"aaaa\n", "bbbb\n", "cccc\n", "dddd\n", "eeee\n"} {
		if _, err := l.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	for file, want := range map[string]string{path: "eeee\n", path + ".1": "cccc\ndddd\n"} {
		got, err := os.ReadFile(file)
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", filepath.Base(file), got, err, want)
		}
	}
	if _, err := os.Stat(path + ".2"); !os.IsNotExist(err) {
		t.Errorf("a second old file exists: %v", err)
	}
}

func TestLogFileAppendsToAnExistingLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	os.WriteFile(path, []byte("before\n"), 0o644)
	l, err := openLogFile(path, maxLogSize)
	if err != nil {
		t.Fatal(err)
	}
	l.Write([]byte("after\n"))
	l.Close()
	if got, _ := os.ReadFile(path); string(got) != "before\nafter\n" {
		t.Fatalf("log = %q", got)
	}
}
