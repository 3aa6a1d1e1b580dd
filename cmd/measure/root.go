package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/measure-cc/measure/internal/atomicfile"
	"github.com/measure-cc/measure/measure"
	"github.com/measure-cc/measure/measure/snp"
	"github.com/measure-cc/measure/measure/tdx"
)

// version is set at release time with -ldflags "-X main.version=..."; it
// wins over the module version the build info carries (toolVersion).
var version = "devel"

// toolVersion is measure's version as statements, provenance and user
// agents name it: version when -ldflags set it, else the main module's
// version from the build info (a release tag after go install
// ...@version, a pseudo-version after go build in a checkout), else
// "devel".
func toolVersion() string {
	bi, _ := debug.ReadBuildInfo()
	return moduleVersion(version, bi)
}

func moduleVersion(ldflags string, bi *debug.BuildInfo) string {
	if ldflags != "" && ldflags != "devel" {
		return ldflags
	}
	if bi != nil && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// versionText is what --version prints: the version, the VCS revision
// and time the build info records (and whether the tree was modified),
// and the Go version and platform.
func versionText(ldflags string, bi *debug.BuildInfo) string {
	s := "measure " + moduleVersion(ldflags, bi)
	if bi == nil {
		return s
	}
	var rev, at string
	modified := false
	for _, kv := range bi.Settings {
		switch kv.Key {
		case "vcs.revision":
			rev = kv.Value
		case "vcs.time":
			at = kv.Value
		case "vcs.modified":
			modified = kv.Value == "true"
		}
	}
	if rev != "" {
		s += "\nrevision " + rev
		var notes []string
		if at != "" {
			notes = append(notes, at)
		}
		if modified {
			notes = append(notes, "modified")
		}
		if len(notes) > 0 {
			s += " (" + strings.Join(notes, ", ") + ")"
		}
	}
	goVersion := bi.GoVersion
	if goVersion == "" {
		goVersion = runtime.Version()
	}
	return s + "\n" + goVersion + " " + runtime.GOOS + "/" + runtime.GOARCH
}

// run executes the measure command line args, writing results to stdout and
// diagnostics to stderr. It is main without os.Exit, so tests call it.
func run(args []string, stdout, stderr io.Writer) error {
	return runWith(newRootCmd(), args, stdout, stderr)
}

// runWith is run on a given command tree, whose standard input a test may
// have set.
func runWith(root *cobra.Command, args []string, stdout, stderr io.Writer) error {
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

// writeJSON writes v as indented JSON and a newline: the JSON form of
// every command that prints its own (docs/output.md).
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// outputFileFlag names the flag that sends a command's output to a file.
const outputFileFlag = "output-file"

// addOutputFileFlag gives a command --output-file.
func addOutputFileFlag(fs *pflag.FlagSet) {
	fs.String(outputFileFlag, "", "write the output to `FILE` whole or not at all (a temporary file renamed into place; a symlink there is replaced, not followed) instead of standard output")
}

func newRootCmd() *cobra.Command {
	bi, _ := debug.ReadBuildInfo()
	root := &cobra.Command{
		Use:   "measure",
		Short: "Compute and check the launch measurements of confidential VMs (AMD SEV-SNP, Intel TDX) from public firmware",
		Long: `measure computes, from a firmware image (and optionally a kernel, initrd and
command line), the launch measurements that confidential-VM hardware reports
for a guest: the SEV, SEV-ES and SEV-SNP launch digest of AMD's processors
and the MRTD and RTMRs of Intel TDX. It signs them as reference values,
checks an attestation report or quote against them, rebuilds the firmware
from pinned source, and moves it through OCI registries, so that a tenant
can check which firmware a provider runs.

Exit status, for every command: 0 success; 1 a negative answer (no match,
the images differ, nothing explains the measurement, two builds differ);
2 the command line is wrong; 3 a file cannot be read; 4 any other failure;
10-23 a check that fails (docs/output.md).`,
		Version:       versionText(version, bi),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newSNPCmd(),
		newTDXCmd(),
		newSEVESCmd(),
		newSEVCmd(),
		newSNPOVMFHashCmd(),
		newOVMFCmd(),
		newIGVMCmd(),
		newDiffCmd(),
	)
	// The commands that need the signing, evidence and registry libraries;
	// none in the front build, which hands them to measure-full (front.go).
	addFullCommands(root)
	registerCompletions(root)
	return root
}

// outputValuesAnnotation is the pflag annotation that may list the values
// of a command's --output; without it they are read from its usage
// ("output format: a, b, c", as outputOptions writes it).
const outputValuesAnnotation = "measure_output_values"

// outputValues are the values a command's --output takes.
func outputValues(f *pflag.Flag) []string {
	if v := f.Annotations[outputValuesAnnotation]; len(v) > 0 {
		return v
	}
	_, list, ok := strings.Cut(f.Usage, "output format: ")
	if !ok {
		return nil
	}
	return strings.Split(list, ", ")
}

// flagValues lists, by flag name, the values shell completion offers for
// a flag whatever the command; recipe flags depend on the command
// (recipeKindsOf).
var flagValues = map[string]func() []string{
	"vmm-type": func() []string {
		var names []string
		for _, v := range []measure.VMM{measure.VMMQEMU, measure.VMMEC2, measure.VMMGCE} {
			names = append(names, v.String())
		}
		return names
	},
	"vcpu-type": func() []string {
		var names []string
		for _, c := range snp.CPUTypes() {
			names = append(names, c.Name)
		}
		return names
	},
	"page-add-order":      func() []string { return []string{tdx.SinglePass.String(), tdx.TwoPass.String()} },
	"secure-boot-support": func() []string { return []string{"yes", "no"} },
}

// registerCompletions gives every command of root shell completion for
// the values of its flags: --output's formats, VMM types, vCPU types, key
// algorithms, TDX page-add orders, and --recipe's embedded recipe names
// (a recipe file completes as a file).
func registerCompletions(root *cobra.Command) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			var values func() []string
			directive := cobra.ShellCompDirectiveNoFileComp
			switch {
			case f.Name == "output":
				v := outputValues(f)
				values = func() []string { return v }
			case f.Name == "recipe":
				values = recipeCompletion(c.CommandPath())
				directive = cobra.ShellCompDirectiveDefault
			default:
				values = flagValues[f.Name]
				if values == nil {
					values = fullFlagValues[f.Name]
				}
			}
			if values == nil {
				return
			}
			// A command that registered its own completion keeps it.
			_ = c.RegisterFlagCompletionFunc(f.Name, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
				return values(), directive
			})
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
