package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"

	"github.com/measure-cc/measure/internal/atomicfile"
)

// Exit codes: one table for every command, documented in README.md and
// docs/output.md. Keep the three in step; TestExitCodes walks every command
// against it.
const (
	exitOK         = 0
	exitNegative   = 1 // a negative answer: no match, the images differ, nothing explains, not reproducible
	exitUsage      = 2 // the command line is wrong
	exitUnreadable = 3 // a file named on the command line cannot be opened or read
	exitError      = 4 // any other failure: an input that is not what the command reads, a build, the network
)

// exitNoMatch is compare's and explain's negative answer.
const exitNoMatch = exitNegative

// Exit codes of verify (and sign, for an invalid statement), one per way a
// signed statement is rejected; documented in docs/provenance.md.
const (
	exitMalformedEnvelope = 10 // the envelope does not parse
	exitPayloadType       = 11 // the payload is not an in-toto statement
	exitBadSignature      = 12 // a signature by a given key fails: payload or signature altered
	exitThreshold         = 13 // too few of the given keys signed
	exitInvalidStatement  = 14 // the statement or its predicate is invalid
	exitSubjectMismatch   = 15 // an --artifact matches no subject
)

// Exit codes of pull, documented in docs/oci.md.
const (
	exitUnsigned = 16 // no signed statement is attached to the firmware
	exitMismatch = 17 // registry content does not match its digest or annotations
)

// Exit codes of compare, explain and report, documented in
// docs/compare.md.
const (
	exitEvidence          = 20 // the report or quote cannot be read: truncated, malformed, unsupported
	exitHardwareSignature = 21 // the hardware signature or its certificate chain does not verify
	exitPolicy            = 22 // a report field violates the policy (debug, TCB, VMPL, report data)
	exitUnverified        = 23 // everything checked held, but the hardware signature was not verified to a trusted root
)

// exitCodes maps the sentinel errors of the measuring commands to exit
// codes, first match first; fullExitCodes (full.go) those of the others.
var exitCodes = []sentinelExit{
	{errDiffer, exitNegative},
	{errIDBlockLD, exitNegative},
}

// sentinelExit is the exit code of an error that wraps err.
type sentinelExit struct {
	err  error
	code int
}

// commandExit is a command run by `build shell` that exited non-zero: measure
// exits with its status.
type commandExit struct {
	code int
	err  error
}

func (e *commandExit) Error() string { return e.err.Error() }
func (e *commandExit) Unwrap() error { return e.err }

// usageError marks an error in the command line itself: flags, arguments,
// their combination.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// unreadableError marks a file named on the command line that cannot be
// opened or read: missing, not permitted, a directory where a file is
// wanted, larger than its limit. Readers wrap what they return with
// unreadable; an *fs.PathError from opening, stating or reading a file
// counts as one without it.
type unreadableError struct{ err error }

func (e unreadableError) Error() string { return e.err.Error() }
func (e unreadableError) Unwrap() error { return e.err }

// unreadable marks err as a file that cannot be read; nil stays nil.
func unreadable(err error) error {
	if err == nil {
		return nil
	}
	return unreadableError{err}
}

// isUnreadable reports whether err says that a file cannot be opened or
// read: an unreadableError, or an *fs.PathError of an open, stat or read.
func isUnreadable(err error) bool {
	var ue unreadableError
	if errors.As(err, &ue) {
		return true
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Op {
	case "open", "stat", "lstat", "read", "readdirent", "readlink":
		return true
	}
	return false
}

// exitCode prints err as one line on stderr and maps it to an exit code.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	var ce *commandExit
	if errors.As(err, &ce) {
		return ce.code // the command spoke for itself
	}
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	fmt.Fprintf(stderr, "measure: %s\n", msg)
	var se *signalError
	if errors.As(err, &se) {
		return 128 + int(se.sig)
	}

	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return exitUsage
	}
	for _, c := range slices.Concat(fullExitCodes, exitCodes) {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	// An output that cannot be written is not an unreadable input, though
	// both carry an *fs.PathError of an open.
	if errors.Is(err, atomicfile.ErrWrite) {
		return exitError
	}
	if isUnreadable(err) {
		return exitUnreadable
	}
	return exitError
}

// isCobraUsage recognises the errors cobra returns for unknown commands and
// wrong argument counts, which do not pass through the flag error hook.
func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "required flag", "if any flags in the group", "none of the others can be"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}
