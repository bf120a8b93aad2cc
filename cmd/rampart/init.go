package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/rampart-dev/rampart/internal/topology"
)

func runInit(args []string) error {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	preset := fs.String("preset", "seed", "the design to start from: seed or ha")
	out := fs.String("o", "rampart.yaml", "the `file` to write")
	force := fs.Bool("force", false, "overwrite an existing file")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	text, err := topology.PresetText(*preset)
	if err != nil {
		return err
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if *force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(*out, flags, 0o644)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists; pass --force to overwrite it", *out)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(text); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Printf("wrote %s (preset %s); run it with: rampart up -f %s\n", *out, *preset, *out)
	return nil
}
