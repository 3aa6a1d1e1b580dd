//go:build !measure_front

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/measure-cc/measure/builders/engine"
	"github.com/measure-cc/measure/builders/firmware"
	buildrun "github.com/measure-cc/measure/builders/run"
	"github.com/measure-cc/measure/internal/atomicfile"
	"github.com/measure-cc/measure/provenance"
)

// buildEnv is the outside world of `measure build`; tests replace it.
type buildEnv struct {
	// preflight checks the host before a build; nil checks nothing.
	preflight func() error
	runner    buildrun.Runner
	fetch     engine.Fetcher
}

func defaultBuildEnv() *buildEnv {
	return &buildEnv{
		preflight: engine.Preflight,
		runner:    buildrun.Exec{},
		fetch:     &http.Client{Timeout: 30 * time.Minute},
	}
}

// recipeOptions is --recipe.
type recipeOptions struct {
	recipe string
}

func (o *recipeOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.recipe, "recipe", firmware.DefaultRecipe, "embedded recipe name (see `measure recipes list`) or a recipe YAML file")
}

func (o *recipeOptions) load() (*firmware.Recipe, error) {
	if strings.HasSuffix(o.recipe, ".yaml") || strings.HasSuffix(o.recipe, ".yml") || strings.Contains(o.recipe, "/") {
		b, err := readFileLimit(o.recipe, 1<<20)
		if err != nil {
			return nil, err
		}
		r, err := firmware.ParseRecipe(b)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", o.recipe, err)
		}
		return r, nil
	}
	r, err := firmware.LookupRecipe(o.recipe)
	if errors.Is(err, firmware.ErrUnknownRecipe) {
		return nil, usageError{err}
	}
	return r, err
}

type buildOptions struct {
	recipe recipeOptions
	out    outputOptions
	build  sandboxBuildOptions
	link   linkOptions
}

func defaultCacheDir() string {
	// Root's cache is /var/cache/measure whatever the environment says: an
	// XDG_CACHE_HOME kept by sudo -E would put root's cache in a
	// directory the user controls.
	if os.Geteuid() == 0 {
		return "/var/cache/measure"
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "measure")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "measure")
	}
	return filepath.Join(os.TempDir(), "measure-cache")
}

func newBuildCmd() *cobra.Command {
	return newBuildCmdEnv(defaultBuildEnv())
}

func newBuildCmdEnv(env *buildEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build firmware, a kernel, an initramfs or a whole guest bit for bit from pinned sources in a pinned toolchain",
		Example: `  measure build ovmf --recipe amdsev --out out/
  measure build kernel --check
  measure build guest --out out/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("build needs a subcommand: ovmf, kernel, initramfs, guest, shell")
		},
	}
	cmd.AddCommand(newBuildOVMFCmd(env), newBuildKernelCmd(env), newBuildInitramfsCmd(env), newBuildGuestCmd(env), newBuildShellCmd(env))
	return cmd
}

func newBuildOVMFCmd(env *buildEnv) *cobra.Command {
	o := &buildOptions{out: outputOptions{allowed: []string{"text", "json"}}}
	cmd := &cobra.Command{
		Use:   "ovmf",
		Short: "Build OVMF from a recipe, write the firmware, its provenance and a build log",
		Long: `Build OVMF from a recipe: pinned edk2 source tarballs and patches, a pinned
toolchain root (an mmdebstrap of a Debian suite at checked package versions,
stored as an OCI image and named by its digest), the platform DSC, its flags
and PCDs, and SOURCE_DATE_EPOCH.

Each step runs under bubblewrap: a user namespace whose build user is a host
id no user has (root drops to it first; others run as themselves), no
capabilities, NoNewPrivs, the toolchain root read-only and nosuid, no
terminal and a new session, no network interface up, new PID, IPC and UTS
namespaces, no host path but the work tree and the read-only sources, a
fixed path, hostname, umask, time zone and locale. It needs bubblewrap and
mmdebstrap (Debian packages of those names) and user namespaces; not root.
SIGINT or SIGTERM ends every process of the build, removes its work tree
and exits 130 or 143. Run as root, --out and --cache must lie in directories
only root can change. 'measure build shell' shows the sandbox from inside.

Sources and toolchain roots are cached under --cache, keyed by sha256.
With --check the recipe is built twice under different outside conditions
and the command fails, naming the files that differ, unless every byte is
the same.`,
		Example: `  measure build ovmf
  measure build ovmf --recipe amdsev --out out/
  measure build ovmf --recipe my-amdsev.yaml --out out/
  measure build ovmf --check
  measure build ovmf --recipe debian-trixie --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd, env)
		},
	}
	o.recipe.AddFlags(cmd.Flags())
	o.out.AddFlags(cmd.Flags())
	o.build.AddFlags(cmd.Flags())
	o.link.AddFlags(cmd.Flags())
	return cmd
}

// progressWriter returns w when it is a terminal, nil otherwise.
func progressWriter(w io.Writer) io.Writer {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return w
}

func (o *buildOptions) run(cmd *cobra.Command, env *buildEnv) error {
	if err := o.out.validate(); err != nil {
		return err
	}
	if err := o.build.validate(); err != nil {
		return err
	}
	r, err := o.recipe.load()
	if err != nil {
		return err
	}
	if err := o.link.load(cmd.ErrOrStderr()); err != nil {
		return err
	}
	e, err := o.build.engine(env, o.build.progress(cmd.ErrOrStderr()))
	if err != nil {
		return err
	}
	b := firmware.NewBuilder(e, o.build.jobs)
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	var results []*firmware.Result
	if o.build.check {
		cr, err := b.Check(ctx, r, o.build.outDir)
		if err != nil {
			if cr != nil {
				describeMismatches(cmd.ErrOrStderr(), cr)
				if o.out.format == "json" && errors.Is(err, engine.ErrNotReproducible) {
					if perr := writeJSON(cmd.OutOrStdout(), checkJSON([]buildReport{buildReportOf(cr.A.Recipe.Name, cr.A.Result), buildReportOf(cr.B.Recipe.Name, cr.B.Result)}, cr.Mismatches)); perr != nil {
						return perr
					}
				}
			}
			return err
		}
		results = append(results, cr.A, cr.B)
	} else {
		res, err := b.Build(ctx, r, engine.Options{OutDir: o.build.outDir})
		if err != nil {
			return err
		}
		results = append(results, res)
	}
	for _, res := range results {
		if err := writeProvenance(res.Provenance, res.Log); err != nil {
			return err
		}
		if err := o.link.writeBuild(stepFirmware, buildCommand("ovmf", r.Name), filepath.Dir(res.Log)); err != nil {
			return err
		}
	}
	reps := make([]buildReport, len(results))
	for i, res := range results {
		reps[i] = buildReportOf(res.Recipe.Name, res.Result)
	}
	return printBuild(cmd.OutOrStdout(), o.out.format, "recipe", o.build.check, reps)
}

// writeProvenance writes a build's SLSA provenance, as an in-toto
// statement naming this measure as the builder, next to its log.
func writeProvenance(b *provenance.Build, log string) error {
	c := *b
	c.BuilderVersion = map[string]string{"measure": toolVersion()}
	st, err := provenance.EncodeSLSA(c)
	if err != nil {
		return fmt.Errorf("provenance: %w", err)
	}
	return atomicfile.WriteBytes(filepath.Join(filepath.Dir(log), "provenance.json"), 0o644, append(st, '\n'))
}

// buildReport is one build in the JSON of build ovmf and build kernel.
type buildReport struct {
	Recipe       string        `json:"recipe"`
	Toolchain    string        `json:"toolchain"`
	BuildSeconds float64       `json:"build_seconds"`
	Log          string        `json:"log"`
	Files        []engine.File `json:"files,omitempty"`
}

func buildReportOf(recipe string, res *engine.Result) buildReport {
	return buildReport{Recipe: recipe, Toolchain: res.Toolchain.Digest, BuildSeconds: res.BuildTime.Round(time.Second).Seconds(), Log: res.Log, Files: res.Files}
}

// buildsJSON is the JSON of the build commands: the build, or with --check
// both builds and whether they are the same bytes, printed whether they
// are or not (docs/output.md).
type buildsJSON[T any] struct {
	// Reproducible is set with --check.
	Reproducible *bool          `json:"reproducible,omitempty"`
	Builds       []T            `json:"builds"`
	Mismatches   []mismatchJSON `json:"mismatches,omitempty"`
}

// mismatchJSON is an output that differs between --check's two builds.
type mismatchJSON struct {
	Name   string      `json:"name"`
	Reason string      `json:"reason"`
	A      engine.File `json:"a"`
	B      engine.File `json:"b"`
}

// buildsOf is the JSON of builds: with check, both builds of --check,
// reproducible when ms is empty.
func buildsOf[T any](check bool, builds []T, ms []engine.Mismatch) buildsJSON[T] {
	v := buildsJSON[T]{Builds: builds}
	if check {
		ok := len(ms) == 0
		v.Reproducible = &ok
	}
	for _, m := range ms {
		v.Mismatches = append(v.Mismatches, mismatchJSON{Name: m.Name, Reason: m.Reason, A: m.A, B: m.B})
	}
	return v
}

// checkJSON is the JSON of a --check whose builds differ.
func checkJSON[T any](builds []T, ms []engine.Mismatch) buildsJSON[T] {
	return buildsOf(true, builds, ms)
}

// printBuild prints build ovmf's or build kernel's builds: JSON, or the
// last build as text, "what" naming the recipe's kind.
func printBuild(w io.Writer, format, what string, check bool, reps []buildReport) error {
	if format == "json" {
		return writeJSON(w, buildsOf(check, reps, nil))
	}
	rep := reps[len(reps)-1]
	if check {
		fmt.Fprintf(w, "%s %s: reproducible (builds of %s and %s)\n", what, rep.Recipe, seconds(reps[0].BuildSeconds), seconds(rep.BuildSeconds))
	}
	fmt.Fprintf(w, "toolchain %s\nbuild time %s, log %s\n", rep.Toolchain, seconds(rep.BuildSeconds), rep.Log)
	for _, f := range rep.Files {
		fmt.Fprintf(w, "%s  %s\n", f.SHA256, f.Path)
	}
	return nil
}

// seconds formats a duration in seconds as time.Duration does.
func seconds(s float64) string { return (time.Duration(s) * time.Second).String() }

// describeMismatches names, per differing file, the firmware modules that
// differ.
func describeMismatches(w io.Writer, cr *firmware.CheckResult) {
	for _, m := range cr.Mismatches {
		fmt.Fprintf(w, "%s differs: %s\n  a: %s %s\n  b: %s %s\n", m.Name, m.Reason, m.A.SHA256, m.A.Path, m.B.SHA256, m.B.Path)
		if err := printFVDiff(w, m.A.Path, m.B.Path); err != nil {
			fmt.Fprintf(w, "  (no module diff: %v)\n", err)
		}
	}
}
