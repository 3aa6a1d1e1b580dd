package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"
)

// version is set at release time with -ldflags "-X main.version=...".
var version = "devel"

// run executes the measure command line args, writing results to stdout and
// diagnostics to stderr. It is main without os.Exit, so tests call it.
func run(args []string, stdout, stderr io.Writer) error {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	ctx, stop := withSignals(context.Background())
	defer stop()
	return interrupted(ctx, root.ExecuteContext(ctx))
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "measure",
		Short: "Compute the launch measurements of confidential VMs from public firmware",
		Long: `measure computes, from a firmware image (and optionally a kernel, initrd and
command line), the launch measurement that AMD SEV, SEV-ES and SEV-SNP hardware
reports for a guest, so that a tenant can check which firmware a provider runs.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newSNPCmd(),
		newTDXCmd(),
		newSEVESCmd(),
		newSEVCmd(),
		newSNPOVMFHashCmd(),
		newOVMFCmd(),
		newKeygenCmd(),
		newSignCmd(),
		newVerifyCmd(),
		newCompareCmd(),
		newExplainCmd(),
		newReportCmd(),
		newBuildCmd(),
		newRecipesCmd(),
		newDiffCmd(),
		newPushCmd(),
		newPullCmd(),
	)
	return root
}
