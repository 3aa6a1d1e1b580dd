package main

import (
	"bytes"
	"context"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/measure-cc/measure/internal/atomicfile"
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
	// --output-file: the output goes to a buffer, then to the file whole,
	// so that a failure, a full disk or a signal never leaves half an
	// envelope where a shell redirect would have truncated the old one.
	var out bytes.Buffer
	var outFile string
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if f := cmd.Flags().Lookup(outputFileFlag); f != nil && f.Value.String() != "" {
			outFile = f.Value.String()
			cmd.SetOut(&out)
		}
		return nil
	}
	ctx, stop := withSignals(context.Background())
	defer stop()
	err := interrupted(ctx, root.ExecuteContext(ctx))
	// A command prints nothing on standard output when it fails to produce
	// its result, and its whole result (a FAILED verdict, say) otherwise.
	if outFile != "" && out.Len() > 0 && ctx.Err() == nil {
		if werr := atomicfile.WriteBytes(outFile, 0o644, out.Bytes()); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

// outputFileFlag names the flag that sends a command's output to a file.
const outputFileFlag = "output-file"

// addOutputFileFlag gives a command --output-file.
func addOutputFileFlag(fs *pflag.FlagSet) {
	fs.String(outputFileFlag, "", "write the output to `FILE` whole or not at all (a temporary file renamed into place; a symlink there is replaced, not followed) instead of standard output")
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
