//go:build !measure_front

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/measure-cc/measure/builders/engine"
	"github.com/measure-cc/measure/builders/firmware"
	"github.com/measure-cc/measure/builders/guest"
	"github.com/measure-cc/measure/builders/initramfs"
	"github.com/measure-cc/measure/builders/kernel"
	"github.com/measure-cc/measure/provenance"
)

// guestRecipeOptions is --recipe of `build guest`.
type guestRecipeOptions struct {
	recipe string
	init   string
}

func (o *guestRecipeOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.recipe, "recipe", guest.DefaultRecipe, "embedded guest recipe name or a guest recipe YAML file")
	fs.StringVar(&o.init, "init", "", "directory of the Go main package built as /init, instead of the recipe's")
}

func (o *guestRecipeOptions) load() (*guest.Recipe, error) {
	var r *guest.Recipe
	if isRecipeFile(o.recipe) {
		b, err := readFileLimit(o.recipe, 1<<20)
		if err != nil {
			return nil, err
		}
		if r, err = guest.ParseRecipe(b); err != nil {
			return nil, fmt.Errorf("%q: %w", o.recipe, err)
		}
	} else {
		var err error
		r, err = guest.LookupRecipe(o.recipe)
		if errors.Is(err, guest.ErrUnknownRecipe) {
			return nil, usageError{err}
		}
		if err != nil {
			return nil, err
		}
	}
	if o.init != "" {
		r.Initramfs.Init = o.init
	}
	return r, nil
}

type buildGuestOptions struct {
	recipe guestRecipeOptions
	build  sandboxBuildOptions
	out    outputOptions
	link   linkOptions
}

func newBuildGuestCmd(env *buildEnv) *cobra.Command {
	o := &buildGuestOptions{out: outputOptions{allowed: []string{"text", "json"}}}
	cmd := &cobra.Command{
		Use:   "guest",
		Short: "Build firmware, kernel and initramfs of a guest, then its reference values and provenance",
		Long: `Build everything a measured-direct-boot guest launches from, then what it
must measure to. A guest recipe names an embedded firmware recipe, an
embedded kernel recipe, the initramfs (a Go init program and files), the
kernel command line and the launch configurations. Firmware and kernel
build in the sandbox of 'measure build ovmf' (see its --help).

--out receives OVMF.fd (or the firmware output the recipe names), bzImage,
initramfs.cpio.gz and cmdline; reference-values.json, an in-toto statement
with the SEV-SNP launch digest of each configuration computed from those
files, naming all four as subjects (reference-values.tdx.json with the TDX
MRTD when the firmware has TDVF metadata); provenance/NAME.intoto.json, one
SLSA statement per artifact; and build/ with the builds' logs and outputs.

With --check everything is built twice, into --out/a and --out/b, under
different outside conditions, and the command fails unless the artifacts and
reference values are the same bytes.`,
		Example: `  measure build guest
  measure build guest --recipe builders/guest/recipes/minimal.yaml --out out/
  measure build guest --check --out out/check
  measure build guest --init ./cmd/my-init --output json`,
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

func (o *buildGuestOptions) run(cmd *cobra.Command, env *buildEnv) error {
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
	p := o.build.progress(cmd.ErrOrStderr())
	e, err := o.build.engine(env, p)
	if err != nil {
		return err
	}
	var progress io.Writer
	if p != nil {
		progress = p
	}
	b := &guest.Builder{
		Firmware:  firmware.NewBuilder(e, o.build.jobs),
		Kernel:    kernel.NewBuilder(e, o.build.jobs),
		Initramfs: &initramfs.Builder{Runner: env.runner, CacheEnv: goCacheEnv(), Progress: progress},
		Tool:      provenance.Tool{Name: "measure", Version: toolVersion(), URI: toolURI},
		Progress:  progress,
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	var results []*guest.Result
	if o.build.check {
		cr, err := b.Check(ctx, r, o.build.outDir)
		if err != nil {
			if cr != nil {
				printMismatches(cmd.ErrOrStderr(), cr.Mismatches)
				if o.out.format == "json" && errors.Is(err, engine.ErrNotReproducible) {
					if perr := writeJSON(cmd.OutOrStdout(), checkJSON([]guestReport{guestReportOf(cr.A), guestReportOf(cr.B)}, cr.Mismatches)); perr != nil {
						return perr
					}
				}
			}
			return err
		}
		results = append(results, cr.A, cr.B)
	} else {
		res, err := b.Build(ctx, r, guest.Options{OutDir: o.build.outDir})
		if err != nil {
			return err
		}
		results = append(results, res)
	}
	for _, res := range results {
		if err := o.link.writeGuest(r, res); err != nil {
			return err
		}
	}
	return printGuest(cmd.OutOrStdout(), o.out.format, r.Name, o.build.check, results)
}

// guestReport is one build in --output json.
type guestReport struct {
	Artifacts  []guest.Artifact `json:"artifacts,omitempty"`
	Statements []guest.Artifact `json:"statements,omitempty"`
	Stages     []stageReport    `json:"stages,omitempty"`
	SNP        []valueReport    `json:"snp,omitempty"`
	TDX        []valueReport    `json:"tdx,omitempty"`
}

type stageReport struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// valueReport is one reference value: its configuration (snake_case,
// unlike the signed predicate's camelCase) and register.
type valueReport struct {
	VMMType       string `json:"vmm_type,omitempty"`
	VCPUs         int    `json:"vcpus,omitempty"`
	VCPUType      string `json:"vcpu_type,omitempty"`
	VCPUSig       string `json:"vcpu_sig,omitempty"`
	GuestFeatures string `json:"guest_features,omitempty"`
	Register      string `json:"register"`
	Digest        string `json:"digest"`
}

func values(rv *provenance.ReferenceValues) []valueReport {
	if rv == nil {
		return nil
	}
	var out []valueReport
	for _, v := range rv.Values {
		c := v.Configuration
		for _, m := range v.Measurements {
			out = append(out, valueReport{VMMType: c.VMMType, VCPUs: c.VCPUs, VCPUType: c.VCPUType, VCPUSig: c.VCPUSig, GuestFeatures: c.GuestFeatures,
				Register: m.Register, Digest: m.Digest["sha384"]})
		}
	}
	return out
}

func guestReportOf(res *guest.Result) guestReport {
	rep := guestReport{Artifacts: res.Artifacts, Statements: res.Statements, SNP: values(res.SNP), TDX: values(res.TDX)}
	for _, s := range res.Stages {
		rep.Stages = append(rep.Stages, stageReport{Name: s.Name, Seconds: s.Duration.Round(time.Second).Seconds()})
	}
	return rep
}

func printGuest(w io.Writer, format, name string, check bool, results []*guest.Result) error {
	if format == "json" {
		reps := make([]guestReport, len(results))
		for i, res := range results {
			reps[i] = guestReportOf(res)
		}
		return writeJSON(w, buildsOf(check, reps, nil))
	}
	last := results[len(results)-1]
	if check {
		fmt.Fprintf(w, "guest recipe %s: reproducible (two builds)\n", name)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i, res := range results {
		for _, s := range res.Stages {
			label := s.Name
			if check {
				label = fmt.Sprintf("%s (build %c)", s.Name, 'a'+i)
			}
			fmt.Fprintf(tw, "stage\t%s\t%s\n", label, s.Duration.Round(time.Second))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, a := range last.Artifacts {
		fmt.Fprintf(w, "%s  %s\n", a.SHA256, a.Path)
	}
	for _, a := range last.Statements {
		fmt.Fprintf(w, "%s  %s\n", a.SHA256, a.Path)
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PLATFORM\tVMM\tVCPU TYPE\tVCPUS\tREGISTER\tDIGEST")
	for _, rv := range []*provenance.ReferenceValues{last.SNP, last.TDX} {
		if rv == nil {
			continue
		}
		for _, v := range values(rv) {
			vmm, cpu, n := v.VMMType, v.VCPUType, fmt.Sprint(v.VCPUs)
			if vmm == "" {
				vmm, n = "-", "-"
			}
			if cpu == "" {
				cpu = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", rv.Platform, vmm, cpu, n, v.Register, v.Digest)
		}
	}
	return tw.Flush()
}
