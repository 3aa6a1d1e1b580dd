//go:build measure_front

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/measure-cc/measure/measure"
)

// The front build (go build -tags measure_front; scripts/release names it
// measure): the measuring commands alone, linked without the signing,
// evidence and registry libraries (in-toto's protobuf types, go-sev-guest,
// go-tdx-guest, go-containerregistry), whose package initialisation costs
// more than a millisecond and 5 MiB of memory in every process, more than
// SHA-384 of a small firmware. Every other command line it hands, as it
// is, to measure-full next to its own executable: the full build of the
// same source, which then is that process (same arguments, standard
// streams, exit status and signals).

// fullName is the file name of the full build beside the front build
// named self: measure-full for measure, and with the same suffix for a
// release's measure-linux-amd64, measure-full-linux-amd64.
func fullName(self string) string {
	if rest, ok := strings.CutPrefix(self, "measure"); ok && !strings.HasPrefix(rest, "-full") {
		return "measure-full" + rest
	}
	return "measure-full"
}

// runsHere says whether the front build runs args itself: a measuring
// command that asks for no statement and reads no event log or quote.
// Anything else, the root's help and completion included, is
// measure-full's; when in doubt, it is too.
func runsHere(args []string) bool {
	if len(args) == 0 {
		return false
	}
	if args[0] == "--version" && len(args) == 1 {
		return true
	}
	if !slices.Contains(frontCommandNames(), args[0]) {
		return false
	}
	for _, a := range args[1:] {
		if strings.Contains(a, "statement") || strings.HasPrefix(a, "--timestamp") || strings.HasPrefix(a, "--event-log") || strings.HasPrefix(a, "--quote") {
			return false
		}
	}
	return true
}

// forward hands args to measure-full unless the front build runs them
// itself. It returns only when this process is to run them; on failure
// to start measure-full it exits with exitError.
func forward(args []string) {
	if runsHere(args) {
		return
	}
	code, err := execFull(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "measure: %v\n", err)
		os.Exit(exitError)
	}
	os.Exit(code)
}

// fullPath is measure-full's path: beside this executable's (symlinks
// resolved), never a search of $PATH.
func fullPath() (string, error) {
	self, err := os.Executable()
	if err == nil {
		self, err = filepath.EvalSymlinks(self)
	}
	if err != nil {
		return "", fmt.Errorf("finding measure-full: %w", err)
	}
	name := fullName(filepath.Base(self))
	p := filepath.Join(filepath.Dir(self), name)
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("this measure runs only the measuring commands (%s); the others are in %s, not found next to it in %s: install both from one release, or go install github.com/measure-cc/measure/cmd/measure for one binary with every command",
			strings.Join(frontCommandNames(), ", "), name, filepath.Dir(p))
	case err != nil:
		return "", fmt.Errorf("finding %s: %w", name, err)
	case !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0:
		return "", fmt.Errorf("%s is not an executable file", p)
	}
	// A front build installed as measure-full, or one that was itself
	// started as measure-full, would start itself again for ever.
	if st, err := os.Stat(self); err == nil && os.SameFile(st, fi) || os.Getenv(forwardedEnv) != "" {
		return "", fmt.Errorf("%s is a front build too, not the full build (go build without -tags measure_front)", p)
	}
	return p, nil
}

// forwardedEnv is set in measure-full's environment by the front build
// that starts it, so that a front build in its place refuses to forward
// again instead of looping.
const forwardedEnv = "MEASURE_FRONT_FORWARDED"

// frontCommandNames are the commands the front build runs itself.
func frontCommandNames() []string {
	return []string{"snp", "seves", "sev", "tdx", "snp-ovmf-hash", "ovmf", "igvm", "diff"}
}

// The full build's commands, completions and sentinel errors: none here.
func addFullCommands(*cobra.Command)          {}
func recipeCompletion(string) func() []string { return nil }

var (
	fullExitCodes  []sentinelExit
	fullFlagValues = map[string]func() []string{}
)

// printStatement is measure-full's: runsHere hands every command line that
// names a statement or --timestamp to it, so this is never reached.
func printStatement(io.Writer, string, *measured, ...subject) error {
	return errors.New("--output statement and --timestamp are measure-full's (this is the front build)")
}

// compareEventLog is measure-full's (tdx_eventlog.go): runsHere hands every
// command line with --event-log or --quote to it, so this is never reached.
func (o *tdxOptions) compareEventLog(*cobra.Command, measure.Result) error {
	return errors.New("--event-log and --quote are measure-full's (this is the front build)")
}
