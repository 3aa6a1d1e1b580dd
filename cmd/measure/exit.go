package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/measure-cc/measure/oci"
	"github.com/measure-cc/measure/provenance"
	"github.com/measure-cc/measure/verify"
)

// Exit codes, documented in README.md. Keep the two in step.
const (
	exitOK    = 0
	exitError = 1 // the input is wrong or the measurement cannot be computed
	exitUsage = 2 // the command line is wrong
)

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

// Exit codes of compare and explain, documented in docs/compare.md. A
// mismatch is 1, as grep finding nothing.
const (
	exitNoMatch           = 1  // compare: no configuration matches; explain: none explains the measurement
	exitEvidence          = 20 // the report or quote cannot be read: truncated, malformed, unsupported
	exitHardwareSignature = 21 // the hardware signature or its certificate chain does not verify
	exitPolicy            = 22 // a report field violates the policy (debug, TCB, VMPL, report data)
	exitUnverified        = 23 // everything checked held, but the hardware signature was not verified to a trusted root
)

// provenanceExitCodes maps the provenance package's sentinel errors to
// exit codes.
var provenanceExitCodes = []struct {
	err  error
	code int
}{
	{provenance.ErrMalformedEnvelope, exitMalformedEnvelope},
	{provenance.ErrPayloadType, exitPayloadType},
	{provenance.ErrBadSignature, exitBadSignature},
	{provenance.ErrThreshold, exitThreshold},
	{provenance.ErrInvalidStatement, exitInvalidStatement},
	{provenance.ErrSubjectMismatch, exitSubjectMismatch},
	{oci.ErrUnsigned, exitUnsigned},
	{oci.ErrMismatch, exitMismatch},
	{oci.ErrNotDigest, exitUsage},
	{verify.ErrMismatch, exitNoMatch},
	{verify.ErrNoConfiguration, exitNoMatch},
	{verify.ErrTruncated, exitEvidence},
	{verify.ErrMalformed, exitEvidence},
	{verify.ErrUnsupported, exitEvidence},
	{verify.ErrHardwareSignature, exitHardwareSignature},
	{verify.ErrNoCertificate, exitHardwareSignature},
	{verify.ErrPolicy, exitPolicy},
	{verify.ErrHardwareUnverified, exitUnverified},
}

// usageError marks an error in the command line itself: flags, arguments,
// their combination.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

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
	for _, c := range provenanceExitCodes {
		if errors.Is(err, c.err) {
			return c.code
		}
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
