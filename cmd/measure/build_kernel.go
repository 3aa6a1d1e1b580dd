//go:build !measure_front

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/measure-cc/measure/builders/engine"
	"github.com/measure-cc/measure/builders/kernel"
	"github.com/measure-cc/measure/builders/toolchain"
)

// kernelRecipeOptions is --recipe of `build kernel`.
type kernelRecipeOptions struct {
	recipe string
}

func (o *kernelRecipeOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.recipe, "recipe", kernel.DefaultRecipe, "embedded kernel recipe name or a kernel recipe YAML file")
}

func (o *kernelRecipeOptions) load() (*kernel.Recipe, error) {
	if isRecipeFile(o.recipe) {
		b, err := readFileLimit(o.recipe, 1<<20)
		if err != nil {
			return nil, err
		}
		r, err := kernel.ParseRecipe(b)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", o.recipe, err)
		}
		return r, nil
	}
	r, err := kernel.LookupRecipe(o.recipe)
	if errors.Is(err, kernel.ErrUnknownRecipe) {
		return nil, usageError{err}
	}
	return r, err
}

// isRecipeFile says whether a --recipe value names a file rather than an
// embedded recipe.
func isRecipeFile(s string) bool {
	return strings.HasSuffix(s, ".yaml") || strings.HasSuffix(s, ".yml") || strings.Contains(s, "/")
}

// sandboxBuildOptions are the flags the sandboxed builds share.
type sandboxBuildOptions struct {
	outDir   string
	cacheDir string
	check    bool
	jobs     int
	keepWork bool
	quiet    bool
}

func (o *sandboxBuildOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.outDir, "out", "out", "output directory")
	fs.StringVar(&o.cacheDir, "cache", defaultCacheDir(), "cache of sources, toolchain images and roots")
	fs.BoolVar(&o.check, "check", false, "build twice under varied conditions and compare the bytes")
	fs.IntVar(&o.jobs, "jobs", 0, "parallel jobs (0: one per CPU); the output does not depend on it")
	fs.BoolVar(&o.keepWork, "keep-work", false, "keep the build's work tree under --cache/work (also after a failure or an interrupt)")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "no progress lines on stderr")
}

func (o *sandboxBuildOptions) validate() error {
	if o.jobs < 0 {
		return usagef("--jobs %d: want 0 or more", o.jobs)
	}
	return nil
}

// progress returns the progress reporter on stderr, nil with --quiet.
func (o *sandboxBuildOptions) progress(stderr io.Writer) *engine.Progress {
	if o.quiet {
		return nil
	}
	return &engine.Progress{W: stderr, Terminal: progressWriter(stderr) != nil}
}

// engine returns the build engine for o over env, after checking that the
// host can run it.
func (o *sandboxBuildOptions) engine(env *buildEnv, p *engine.Progress) (*engine.Engine, error) {
	if env.preflight != nil {
		if err := env.preflight(); err != nil {
			return nil, err
		}
	}
	var tp io.Writer
	if p != nil {
		tp = p
	}
	return &engine.Engine{
		CacheDir:   o.cacheDir,
		Runner:     env.runner,
		Fetch:      env.fetch,
		Toolchains: &toolchain.Cache{Dir: filepath.Join(o.cacheDir, "toolchain"), Runner: env.runner, Progress: tp, Log: &lazyLog{path: filepath.Join(o.outDir, "toolchain.log")}},
		Progress:   p,
		KeepWork:   o.keepWork,
	}, nil
}

type buildKernelOptions struct {
	recipe kernelRecipeOptions
	build  sandboxBuildOptions
	out    outputOptions
	link   linkOptions
}

func newBuildKernelCmd(env *buildEnv) *cobra.Command {
	o := &buildKernelOptions{out: outputOptions{allowed: []string{"text", "json"}}}
	cmd := &cobra.Command{
		Use:   "kernel",
		Short: "Build a confidential-guest Linux kernel from a recipe, with its provenance and a build log",
		Long: `Build a Linux kernel from a recipe: Debian's linux-source package pinned by
sha256, a base configuration (tinyconfig) and a pinned config fragment for a
confidential guest (SEV-SNP and TDX guest support, virtio, serial console,
EFI stub, initramfs, no modules), KBUILD_BUILD_TIMESTAMP, USER, HOST and
SOURCE_DATE_EPOCH, in the same pinned toolchain root and sandbox as
'measure build ovmf' (see 'measure build ovmf --help').

It writes bzImage, config (the resolved .config), build.log and
provenance.json (SLSA v1) in --out. With --check it builds twice under
different outside conditions, into --out/a and --out/b, and fails unless
every byte is the same.`,
		Example: `  measure build kernel
  measure build kernel --out out/kernel
  measure build kernel --recipe my-kernel.yaml --jobs 2
  measure build kernel --check --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd, env)
		},
	}
	o.recipe.AddFlags(cmd.Flags())
	o.build.AddFlags(cmd.Flags())
	o.out.AddFlags(cmd.Flags())
	o.link.AddFlags(cmd.Flags())
	return cmd
}

func (o *buildKernelOptions) run(cmd *cobra.Command, env *buildEnv) error {
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
	b := kernel.NewBuilder(e, o.build.jobs)
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	var results []*kernel.Result
	if o.build.check {
		cr, err := b.Check(ctx, r, o.build.outDir)
		if err != nil {
			if cr != nil {
				printMismatches(cmd.ErrOrStderr(), cr.Mismatches)
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
		if err := o.link.writeBuild(stepKernel, buildCommand("kernel", r.Name), filepath.Dir(res.Log)); err != nil {
			return err
		}
	}
	reps := make([]buildReport, len(results))
	for i, res := range results {
		reps[i] = buildReportOf(res.Recipe.Name, res.Result)
	}
	return printBuild(cmd.OutOrStdout(), o.out.format, "kernel recipe", o.build.check, reps)
}

func printMismatches(w io.Writer, ms []engine.Mismatch) {
	for _, m := range ms {
		fmt.Fprintf(w, "%s differs: %s\n  a: %s %s\n  b: %s %s\n", m.Name, m.Reason, m.A.SHA256, m.A.Path, m.B.SHA256, m.B.Path)
	}
}

// lazyLog is a log file created on the first write (mmdebstrap's output,
// when a toolchain is made), so that a build that makes none leaves none.
// A log that cannot be written drops the output rather than fail the
// command writing it (the toolchain keeps the last lines for its errors).
type lazyLog struct {
	path string
	f    *os.File
	err  error
}

func (l *lazyLog) Write(p []byte) (int, error) {
	if l.f == nil && l.err == nil {
		if l.err = os.MkdirAll(filepath.Dir(l.path), 0o755); l.err == nil {
			l.f, l.err = engine.CreateLog(l.path)
		}
	}
	if l.err != nil {
		return len(p), nil
	}
	return l.f.Write(p)
}
