//go:build !measure_front

package main

import (
	"github.com/spf13/cobra"

	"github.com/measure-cc/measure/builders/engine"
	"github.com/measure-cc/measure/oci"
	"github.com/measure-cc/measure/provenance"
	"github.com/measure-cc/measure/verify"
)

// The full build: every command in one binary. It is what go install
// gives, and measure-full of a release, to which the front build hands
// the commands it leaves out (front.go).

// forward runs nothing else: this binary has every command.
func forward([]string) {}

// addFullCommands adds the commands that need the signing, evidence and
// registry libraries, whose package initialisation alone costs more than
// a millisecond and 5 MiB (docs/performance.md).
func addFullCommands(root *cobra.Command) {
	root.AddCommand(
		newIDBlockCmd(),
		newKeygenCmd(),
		newSignCmd(),
		newVerifyCmd(),
		newCompareCmd(),
		newExportCmd(),
		newExplainCmd(),
		newServeWebCmd(),
		newReportCmd(),
		newBuildCmd(),
		newLayoutCmd(),
		newRecipesCmd(),
		newPushCmd(),
		newPullCmd(),
	)
}

// fullExitCodes maps the sentinel errors of those commands' libraries to
// exit codes, first match first.
var fullExitCodes = []sentinelExit{
	{provenance.ErrMalformedEnvelope, exitMalformedEnvelope},
	{provenance.ErrPayloadType, exitPayloadType},
	{provenance.ErrBadSignature, exitBadSignature},
	{provenance.ErrThreshold, exitThreshold},
	{provenance.ErrInvalidStatement, exitInvalidStatement},
	{provenance.ErrSubjectMismatch, exitSubjectMismatch},
	{oci.ErrUnsigned, exitUnsigned},
	{oci.ErrMismatch, exitMismatch},
	{oci.ErrNotDigest, exitUsage},
	{verify.ErrMismatch, exitNegative},
	{verify.ErrPlatform, exitNegative},
	{verify.ErrNoConfiguration, exitNegative},
	{engine.ErrNotReproducible, exitNegative},
	{verify.ErrTruncated, exitEvidence},
	{verify.ErrMalformed, exitEvidence},
	{verify.ErrUnsupported, exitEvidence},
	{verify.ErrHardwareSignature, exitHardwareSignature},
	{verify.ErrNoCertificate, exitHardwareSignature},
	{verify.ErrPolicy, exitPolicy},
	{verify.ErrHardwareUnverified, exitUnverified},
	{verify.ErrUnsignedReferences, exitUnverified},
}

// fullFlagValues lists, by flag name, the values shell completion offers
// for the flags of those commands.
var fullFlagValues = map[string]func() []string{
	"alg": func() []string {
		var names []string
		for _, a := range provenance.KeyAlgorithms {
			names = append(names, string(a))
		}
		return names
	},
}

// recipeKindsOf says which recipes a command's --recipe takes.
var recipeKindsOf = map[string][]string{
	"measure build ovmf":   {kindFirmware},
	"measure build kernel": {kindKernel},
	"measure build guest":  {kindGuest},
	"measure build shell":  {kindFirmware, kindKernel},
}

// recipeCompletion completes the --recipe of the command at path with
// the embedded recipes' names.
func recipeCompletion(path string) func() []string {
	kinds := recipeKindsOf[path]
	return func() []string { return recipeNames(kinds...) }
}
