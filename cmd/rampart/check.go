package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/rampart-dev/rampart/internal/review"
)

// defaultFailOn is warning: the ha preset, rampart's sound design, passes,
// and anything the review would ask a person to fix fails a CI job.
const defaultFailOn = "warning"

func runCheck(args []string) error { return check(os.Stdout, args) }

// check reviews the topology args name and writes the report to w. It
// returns an error, and so a non-zero exit, when a finding is at or above
// --fail-on.
func check(w io.Writer, args []string) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	var site siteFlags
	fs.StringVar(&site.file, "f", "", "topology `file` to review (rampart.yaml)")
	fs.StringVar(&site.preset, "preset", "", "review a built-in topology: seed or ha")
	format := fs.String("format", "text", "output `format`: text or json")
	failOn := fs.String("fail-on", defaultFailOn, "exit non-zero on a finding at this `severity` or above: info, warning, critical or none")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("check: unexpected argument %q; pass the topology with -f FILE", pos[0])
	}
	threshold := review.Severity(0)
	if *failOn != "none" {
		if threshold, err = review.ParseSeverity(*failOn); err != nil {
			return fmt.Errorf("check: --fail-on %q: want info, warning, critical or none", *failOn)
		}
	}
	t, err := site.load("seed")
	if err != nil {
		return err
	}
	r := review.Review(t)
	switch *format {
	case "text":
		err = r.WriteText(w)
	case "json":
		err = r.WriteJSON(w)
	default:
		return fmt.Errorf("check: --format %q: want text or json", *format)
	}
	if err != nil {
		return fmt.Errorf("check: write the report: %w", err)
	}
	if threshold == 0 {
		return nil
	}
	if bad := r.AtLeast(threshold); len(bad) > 0 {
		noun := "findings"
		if len(bad) == 1 {
			noun = "finding"
		}
		return fmt.Errorf("check: %s has %d %s at %s or above (--fail-on %s)", r.Source, len(bad), noun, threshold, threshold)
	}
	return nil
}
