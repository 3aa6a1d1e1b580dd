//go:build !measure_front

package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/measure-cc/measure/builders/firmware"
	"github.com/measure-cc/measure/builders/guest"
	"github.com/measure-cc/measure/builders/kernel"
	"github.com/measure-cc/measure/internal/atomicfile"
	"github.com/measure-cc/measure/provenance"
)

// The supply chain of a build, as in-toto sees it: the steps `measure build`
// signs a link for, and the inspection a layout runs. The build commands
// and `measure layout` take names, commands and rules from here, so that
// links and layouts cannot drift apart.
const (
	stepFirmware  = "build-ovmf"
	stepKernel    = "build-kernel"
	stepInitramfs = "build-initramfs"
	// stepRefValues is `measure build guest` computing the reference values
	// from the artifacts it wrote.
	stepRefValues = "compute-reference-values"
	// inspectRefValues is the verifier computing them again.
	inspectRefValues = "recompute-reference-values"
	// inspectFirmware is the verifier parsing a firmware build's image.
	inspectFirmware = "inspect-firmware"
)

// buildCommand is the command a link of `measure build KIND` reports and a
// layout expects: the recipe by name, as the recipe names itself.
func buildCommand(kind, recipe string) []string {
	return []string{"measure", "build", kind, "--recipe", recipe}
}

// metadataRules allow, in an inspection's working directory, what in-toto
// verification and `measure build` leave there besides the artifacts: the
// layout, links, public keys, logs and provenance statements.
var metadataRules = [][]string{
	{"ALLOW", "*.link"}, {"ALLOW", "*.layout"}, {"ALLOW", "*.pub"}, {"ALLOW", "*.log"},
	{"ALLOW", "provenance.json"}, {"ALLOW", "provenance/*"}, {"ALLOW", "build/*"},
}

var disallowRest = []string{"DISALLOW", "*"}

// linkOptions is --link-key of the build commands.
type linkOptions struct {
	key    string
	signer *provenance.Signer
}

func (o *linkOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.key, "link-key", "", "also sign an in-toto link per step with this private key (as sign's --key) and write it next to the provenance (measure layout)")
}

// load reads the --link-key, before the build, so that a wrong password
// fails at once.
func (o *linkOptions) load(stderr io.Writer) error {
	if o.key == "" {
		return nil
	}
	s, err := loadSigner(o.key, stderr)
	if err != nil {
		return fmt.Errorf("--link-key: %w", err)
	}
	o.signer = s
	return nil
}

// write signs l into dir as STEP.KEYID8.link; nothing without --link-key.
func (o *linkOptions) write(l *provenance.Link, dir string) error {
	if o.signer == nil {
		return nil
	}
	name, b, err := provenance.SignLink(l, o.signer)
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(dir, name), 0o644, b)
}

// writeBuild writes the link of a firmware or kernel build whose log and
// provenance.json are in dir: its materials and products are the
// provenance's dependencies and subjects.
func (o *linkOptions) writeBuild(step string, command []string, dir string) error {
	if o.signer == nil {
		return nil
	}
	l, err := slsaLink(step, command, filepath.Join(dir, "provenance.json"))
	if err != nil {
		return err
	}
	return o.write(l, dir)
}

func slsaLink(step string, command []string, statement string) (*provenance.Link, error) {
	b, err := readFileLimit(statement, maxStatementSize)
	if err != nil {
		return nil, err
	}
	l, err := provenance.BuildLink(step, command, b)
	if err != nil {
		return nil, fmt.Errorf("link %s from %q: %w", step, statement, err)
	}
	return l, nil
}

// writeGuest writes the links of a guest build into its output directory:
// firmware, kernel and initramfs from their provenance statements, and the
// reference values from the artifacts and statements.
func (o *linkOptions) writeGuest(r *guest.Recipe, res *guest.Result) error {
	if o.signer == nil {
		return nil
	}
	if len(res.Artifacts) != 4 {
		return fmt.Errorf("guest build has %d artifacts, want firmware, kernel, initramfs and command line", len(res.Artifacts))
	}
	dir := filepath.Dir(res.Artifacts[0].Path)
	command := buildCommand("guest", r.Name)
	for i, step := range []string{stepFirmware, stepKernel, stepInitramfs} {
		l, err := slsaLink(step, command, filepath.Join(dir, guest.ProvenanceDir, res.Artifacts[i].Name+".intoto.json"))
		if err != nil {
			return err
		}
		if err := o.write(l, dir); err != nil {
			return err
		}
	}
	l := &provenance.Link{Name: stepRefValues, Command: command, Materials: map[string]string{}, Products: map[string]string{}}
	for _, a := range res.Artifacts {
		l.Materials[a.Name] = a.SHA256
	}
	for _, a := range res.Statements {
		if a.Name == guest.ReferenceValuesName || a.Name == guest.TDXReferenceName {
			l.Products[a.Name] = a.SHA256
		}
	}
	return o.write(l, dir)
}

// layoutRecipe is the recipe a layout is for: a guest, or a firmware alone.
type layoutRecipe struct {
	guest    *guest.Recipe
	firmware *firmware.Recipe
}

// loadLayoutRecipe reads --recipe: an embedded guest or firmware recipe's
// name, or a guest or firmware recipe file.
func loadLayoutRecipe(s string) (*layoutRecipe, error) {
	if isRecipeFile(s) {
		b, err := readFileLimit(s, 1<<20)
		if err != nil {
			return nil, err
		}
		g, gerr := guest.ParseRecipe(b)
		if gerr == nil {
			return &layoutRecipe{guest: g}, nil
		}
		f, ferr := firmware.ParseRecipe(b)
		if ferr == nil {
			return &layoutRecipe{firmware: f}, nil
		}
		return nil, fmt.Errorf("%q is neither a guest recipe (%v) nor a firmware recipe (%v)", s, gerr, ferr)
	}
	if g, err := guest.LookupRecipe(s); err == nil {
		return &layoutRecipe{guest: g}, nil
	} else if !errors.Is(err, guest.ErrUnknownRecipe) {
		return nil, err
	}
	f, err := firmware.LookupRecipe(s)
	if errors.Is(err, firmware.ErrUnknownRecipe) {
		return nil, usagef("recipe %q: no embedded guest or firmware recipe of that name (measure recipes list)", s)
	}
	if err != nil {
		return nil, err
	}
	return &layoutRecipe{firmware: f}, nil
}

// firmwareStep is the step that builds fr into products.
func firmwareStep(fr *firmware.Recipe, command, products []string) provenance.LayoutStep {
	s := provenance.LayoutStep{Name: stepFirmware, ExpectedCommand: command}
	for _, src := range fr.Sources {
		s.ExpectedMaterials = append(s.ExpectedMaterials, []string{"ALLOW", src.FileName()})
	}
	for _, p := range fr.Patches.Files {
		s.ExpectedMaterials = append(s.ExpectedMaterials, []string{"ALLOW", "patches/" + p})
	}
	s.ExpectedMaterials = append(s.ExpectedMaterials, []string{"ALLOW", "toolchain"}, []string{"ALLOW", "packages/*"}, disallowRest)
	s.ExpectedProducts = createOnly(products...)
	return s
}

// createOnly are product rules: these files are created, nothing else.
func createOnly(names ...string) [][]string {
	var rules [][]string
	for _, n := range names {
		rules = append(rules, []string{"CREATE", n})
	}
	return append(rules, disallowRest)
}

// matchFrom are rules that the files named come from steps' products, by
// step.
func matchFrom(names map[string]string) [][]string {
	var rules [][]string
	for _, n := range slices.Sorted(maps.Keys(names)) {
		rules = append(rules, []string{"MATCH", n, "WITH", "PRODUCTS", "FROM", names[n]})
	}
	return rules
}

// steps returns the supply chain of r: its steps, with the functionaries of
// each, and the inspection.
func (r *layoutRecipe) layout(functionaries []*provenance.Verifier, threshold int, expires time.Time) (*provenance.Layout, error) {
	with := func(s provenance.LayoutStep) provenance.LayoutStep {
		s.Functionaries, s.Threshold = functionaries, threshold
		return s
	}
	if r.firmware != nil {
		fr := r.firmware
		var outs []string
		for _, o := range fr.Outputs {
			outs = append(outs, o.Name)
		}
		from := map[string]string{}
		for _, o := range outs {
			from[o] = stepFirmware
		}
		rules := slices.Concat([][]string{{"REQUIRE", outs[0]}}, matchFrom(from), metadataRules, [][]string{disallowRest})
		return &provenance.Layout{
			Steps: []provenance.LayoutStep{with(firmwareStep(fr, buildCommand("ovmf", fr.Name), outs))},
			Inspections: []provenance.LayoutInspection{{
				Name:              inspectFirmware,
				Run:               []string{"measure", "ovmf", "inspect", outs[0]},
				ExpectedMaterials: rules, ExpectedProducts: rules,
			}},
			Expires: expires,
			Readme:  fmt.Sprintf("measure build ovmf --recipe %s: %s. Verify in a directory holding its outputs; the inspection parses %s with measure ovmf inspect.", fr.Name, fr.Description, outs[0]),
		}, nil
	}
	g := r.guest
	fr, err := firmware.LookupRecipe(g.Firmware.Recipe)
	if err != nil {
		return nil, err
	}
	kr, err := kernel.LookupRecipe(g.Kernel.Recipe)
	if err != nil {
		return nil, err
	}
	launches, err := g.Launches()
	if err != nil {
		return nil, err
	}
	command := buildCommand("guest", g.Name)
	fw, kern := g.Firmware.Output, g.Kernel.Output
	built := map[string]string{fw: stepFirmware, kern: stepKernel, guest.InitramfsName: stepInitramfs}
	ks := provenance.LayoutStep{Name: stepKernel, ExpectedCommand: command,
		ExpectedMaterials: [][]string{{"ALLOW", kr.Source.FileName()}, {"ALLOW", "toolchain"}, {"ALLOW", "packages/*"}, disallowRest},
		ExpectedProducts:  createOnly(kern)}
	is := provenance.LayoutStep{Name: stepInitramfs, ExpectedCommand: command,
		ExpectedMaterials: [][]string{{"ALLOW", "init/*"}, {"ALLOW", "files/*"}, disallowRest},
		ExpectedProducts:  createOnly(guest.InitramfsName)}
	rs := provenance.LayoutStep{Name: stepRefValues, ExpectedCommand: command,
		ExpectedMaterials: slices.Concat(matchFrom(built), [][]string{{"ALLOW", guest.CmdlineName}, disallowRest}),
		ExpectedProducts:  createOnly(guest.ReferenceValuesName, guest.TDXReferenceName)}
	var rules [][]string
	for _, n := range []string{fw, kern, guest.InitramfsName, guest.CmdlineName, guest.ReferenceValuesName} {
		rules = append(rules, []string{"REQUIRE", n})
	}
	rules = slices.Concat(rules, matchFrom(built), [][]string{
		{"MATCH", guest.CmdlineName, "WITH", "MATERIALS", "FROM", stepRefValues},
		{"MATCH", guest.ReferenceValuesName, "WITH", "PRODUCTS", "FROM", stepRefValues},
		{"MATCH", guest.TDXReferenceName, "WITH", "PRODUCTS", "FROM", stepRefValues},
	}, metadataRules, [][]string{disallowRest})
	return &provenance.Layout{
		Steps: []provenance.LayoutStep{
			with(firmwareStep(fr, command, []string{fw})), with(ks), with(is), with(rs),
		},
		Inspections: []provenance.LayoutInspection{{
			Name:              inspectRefValues,
			Run:               inspectCommand(g),
			ExpectedMaterials: rules, ExpectedProducts: rules,
		}},
		Expires: expires,
		Readme: fmt.Sprintf("measure build guest --recipe %s: %s. Verify in a directory holding %s, %s, %s, %s and %s; the inspection computes the %d SEV-SNP reference values (and the TDX MRTD, with TDVF metadata) again and compares.",
			g.Name, g.Description, fw, kern, guest.InitramfsName, guest.CmdlineName, guest.ReferenceValuesName, len(launches)),
	}, nil
}

// inspectCommand is the inspection of a guest recipe's layout: `measure
// layout inspect` with the recipe's files and launch configurations.
func inspectCommand(g *guest.Recipe) []string {
	vcpus := make([]string, len(g.SNP.VCPUs))
	for i, n := range g.SNP.VCPUs {
		vcpus[i] = strconv.Itoa(n)
	}
	run := []string{"measure", "layout", "inspect",
		"--firmware=" + g.Firmware.Output, "--kernel=" + g.Kernel.Output, "--initrd=" + guest.InitramfsName,
		"--append=" + g.Cmdline,
		"--vmm-types=" + strings.Join(g.SNP.VMMTypes, ","), "--vcpus=" + strings.Join(vcpus, ","),
	}
	if len(g.SNP.VCPUTypes) > 0 {
		run = append(run, "--vcpu-types="+strings.Join(g.SNP.VCPUTypes, ","))
	}
	run = append(run, "--guest-features="+g.SNP.GuestFeatures)
	if g.TDX.PageAddOrder != "" {
		run = append(run, "--page-add-order="+g.TDX.PageAddOrder)
	}
	return run
}

type layoutOptions struct {
	recipe        string
	functionaries []string
	threshold     int
	owners        []string
	expires       time.Duration
	envelope      string
	// now is the clock.
	now func() time.Time
}

func (o *layoutOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.recipe, "recipe", "", "embedded guest or firmware recipe name, or a recipe YAML file (required)")
	fs.StringArrayVar(&o.functionaries, "functionary", nil, "public key (PKIX PEM) that may sign the build's links; repeat for several (required)")
	fs.IntVar(&o.threshold, "threshold", 1, "how many functionaries must sign each step's link")
	fs.StringArrayVar(&o.owners, "owner-key", nil, "the layout owner's private key (as sign's --key); repeat for several signatures (required)")
	fs.DurationVar(&o.expires, "expires", 365*24*time.Hour, "how long the layout stays valid")
	names := make([]string, len(provenance.LayoutEnvelopes))
	for i, e := range provenance.LayoutEnvelopes {
		names[i] = string(e)
	}
	fs.StringVar(&o.envelope, "envelope", string(provenance.Metablock), "signature wrapper: "+strings.Join(names, " or ")+" (dsse for Trustee's RVPS)")
	addOutputFileFlag(fs)
}

func newLayoutCmd() *cobra.Command { return newLayoutCmdAt(time.Now) }

// newLayoutCmdAt is newLayoutCmd with the clock its --expires counts from.
func newLayoutCmdAt(now func() time.Time) *cobra.Command {
	o := &layoutOptions{now: now}
	cmd := &cobra.Command{
		Use:   "layout --recipe NAME|FILE --functionary KEY.pub... --owner-key KEY",
		Short: "Write a signed in-toto layout for a recipe: the steps measure build signs links for and the inspection that recomputes its reference values",
		Long: `layout prints an in-toto layout (specification v0.9) for a guest or firmware
recipe, signed with --owner-key, which in-toto verifiers (in-toto-golang,
in-toto-verify, Trustee's RVPS) check the links of 'measure build
--link-key' against.

A guest recipe has four steps, each signed by --threshold of the
--functionary keys: build-ovmf (materials: the recipe's source tarballs,
patches, toolchain image and packages; product: the firmware), build-kernel,
build-initramfs, and compute-reference-values (materials: the firmware,
kernel and initramfs, matched with the products of the steps that built
them, and the command line; products: reference-values.json and, with TDVF
metadata, reference-values.tdx.json). Anything else is disallowed. Its
inspection, recompute-reference-values, runs 'measure layout inspect' in the
verifier's directory: it computes the reference values of the artifacts
there again, with the recipe's configurations, and fails unless they are the
ones the signed statement holds. A firmware recipe has the build-ovmf step
and an inspection that parses the firmware (measure ovmf inspect).

The inspection runs 'measure' from the verifier's PATH. Verify in a
directory holding the artifacts (a 'measure build guest --out' directory
will do): the inspection records every file under it, and allows besides
the artifacts only links, layouts, .pub keys, logs, provenance/ and build/.
Keys are Ed25519 or ECDSA P-256/P-384 (keygen); in-toto-golang verifies
all three, in-toto's Python implementation Ed25519 and P-256 only
(docs/provenance.md).`,
		Example: `  measure keygen --out builder
  measure keygen --out owner
  measure build guest --out out/ --link-key builder.key
  measure layout --recipe minimal --functionary builder.pub --owner-key owner.key --expires 720h --output-file out/minimal.layout
  cd out && in-toto verify --layout minimal.layout --layout-keys ../owner.pub    # in-toto-golang's CLI
  measure layout --recipe amdsev --functionary a.pub --functionary b.pub --threshold 2 --owner-key owner.key --envelope dsse`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case o.recipe == "":
				return usagef("--recipe is required")
			case len(o.functionaries) == 0:
				return usagef("--functionary is required")
			case len(o.owners) == 0:
				return usagef("--owner-key is required")
			case o.threshold < 1 || o.threshold > len(o.functionaries):
				return usagef("--threshold %d with %d --functionary keys: want 1 to %d", o.threshold, len(o.functionaries), len(o.functionaries))
			case o.expires <= 0:
				return usagef("--expires %s: want a positive duration", o.expires)
			case !slices.Contains(provenance.LayoutEnvelopes, provenance.LayoutEnvelope(o.envelope)):
				return usagef("--envelope %q is unknown, want one of %v", o.envelope, provenance.LayoutEnvelopes)
			}
			r, err := loadLayoutRecipe(o.recipe)
			if err != nil {
				return err
			}
			var fs []*provenance.Verifier
			for _, p := range o.functionaries {
				b, err := readFileLimit(p, maxKeySize)
				if err != nil {
					return err
				}
				v, err := provenance.ParseVerifier(b)
				if err != nil {
					return fmt.Errorf("functionary key %q: %w", p, err)
				}
				fs = append(fs, v)
			}
			var owners []*provenance.Signer
			for _, p := range o.owners {
				s, err := loadSigner(p, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				owners = append(owners, s)
			}
			l, err := r.layout(fs, o.threshold, o.now().Add(o.expires).Truncate(time.Second))
			if err != nil {
				return err
			}
			b, err := provenance.SignLayout(cmd.Context(), l, provenance.LayoutEnvelope(o.envelope), owners...)
			if err != nil {
				return fmt.Errorf("recipe %q: %w", o.recipe, err)
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	o.AddFlags(cmd.Flags())
	cmd.AddCommand(newLayoutInspectCmd())
	return cmd
}

type layoutInspectOptions struct {
	firmware, kernel, initrd, cmdline string
	snp                               guest.SNPConfigs
	pageAddOrder                      string
	refs, tdxRefs                     string
}

func (o *layoutInspectOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.firmware, "firmware", "OVMF.fd", "firmware image")
	fs.StringVar(&o.kernel, "kernel", "bzImage", "kernel")
	fs.StringVar(&o.initrd, "initrd", guest.InitramfsName, "initramfs")
	fs.StringVar(&o.cmdline, "append", "", "kernel command line, as the recipe gives it")
	fs.StringSliceVar(&o.snp.VMMTypes, "vmm-types", []string{"qemu"}, "SEV-SNP VMM types")
	fs.IntSliceVar(&o.snp.VCPUs, "vcpus", nil, "SEV-SNP vCPU counts (required)")
	fs.StringSliceVar(&o.snp.VCPUTypes, "vcpu-types", nil, "SEV-SNP vCPU models (qemu)")
	fs.StringVar(&o.snp.GuestFeatures, "guest-features", "0x1", "SEV-SNP guest features, 0x-hex")
	fs.StringVar(&o.pageAddOrder, "page-add-order", "", "TDX page-add order (single-pass when empty)")
	fs.StringVar(&o.refs, "reference-values", guest.ReferenceValuesName, "the SEV-SNP reference-values statement to check")
	fs.StringVar(&o.tdxRefs, "tdx-reference-values", guest.TDXReferenceName, "the TDX reference-values statement, which must exist exactly when the firmware has TDVF metadata")
}

func newLayoutInspectCmd() *cobra.Command {
	o := &layoutInspectOptions{}
	cmd := &cobra.Command{
		Use:   "inspect --vcpus N,... [flags]",
		Short: "Compute a guest's reference values again and check them against its statements: the inspection of a guest layout",
		Long: `inspect is what a guest recipe's in-toto layout runs once the links verify.
It reads the firmware, kernel and initramfs, computes the SEV-SNP reference
values of the given launch configurations (and the TDX MRTD, when the
firmware has TDVF metadata) exactly as 'measure build guest' does, and
compares them with --reference-values (and --tdx-reference-values): the
same subjects, firmware, boot inputs and values, whichever measure version
computed them. It exits 0 when they agree and 1 when they differ, naming the
first difference.`,
		Example: `  measure layout inspect --append "console=ttyS0 panic=-1" --vcpus 1,2,4 --vcpu-types EPYC-v4,EPYC-Milan,EPYC-Genoa`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(o.snp.VCPUs) == 0 {
				return usagef("--vcpus is required")
			}
			r := &guest.Recipe{SNP: o.snp, TDX: guest.TDXConfig{PageAddOrder: o.pageAddOrder}}
			launches, err := r.Launches()
			if err != nil {
				return usageError{err}
			}
			order, err := r.PageAddOrder()
			if err != nil {
				return usageError{err}
			}
			read := func(p string, limit int64) (guest.Blob, error) {
				b, err := readFileLimit(p, limit)
				return guest.Blob{Name: filepath.Base(p), Data: b}, err
			}
			fw, err := read(o.firmware, maxKernelSize)
			if err != nil {
				return err
			}
			kern, err := read(o.kernel, maxKernelSize)
			if err != nil {
				return err
			}
			initrd, err := read(o.initrd, maxBlobSize)
			if err != nil {
				return err
			}
			signed, err := readFileLimit(o.refs, maxStatementSize)
			if err != nil {
				return err
			}
			tool := provenance.Tool{Name: "measure", Version: toolVersion(), URI: toolURI}
			rv, err := guest.SNPReferenceValues(guest.Boot{Firmware: fw, Kernel: kern, Initrd: initrd, Cmdline: o.cmdline}, launches, tool)
			if err != nil {
				return err
			}
			blobs := []guest.Blob{fw, kern, initrd, {Name: guest.CmdlineName, Data: []byte(o.cmdline)}}
			st, err := guest.Statement(rv, blobs)
			if err != nil {
				return err
			}
			if err := provenance.CompareReferenceValues(signed, st); err != nil {
				return inspectFailed(cmd, o.refs, err)
			}
			summary := fmt.Sprintf("reference values agree: %s (%d SEV-SNP values)", o.refs, len(rv.Values))
			tdx, err := guest.TDXReferenceValues(fw, order, tool)
			if err != nil {
				return err
			}
			tdxSigned, err := readFileLimit(o.tdxRefs, maxStatementSize)
			switch {
			case tdx == nil && err == nil:
				return inspectFailed(cmd, o.tdxRefs, fmt.Errorf("%w: the firmware has no TDVF metadata, yet there are TDX reference values", provenance.ErrReferenceValuesDiffer))
			case tdx == nil && errors.Is(err, fs.ErrNotExist):
			case err != nil:
				return err
			default:
				st, err := guest.Statement(tdx, blobs[:1])
				if err != nil {
					return err
				}
				if err := provenance.CompareReferenceValues(tdxSigned, st); err != nil {
					return inspectFailed(cmd, o.tdxRefs, err)
				}
				summary += fmt.Sprintf(", %s (%d TDX values)", o.tdxRefs, len(tdx.Values))
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), summary)
			return err
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// inspectFailed reports reference values that do not agree with exit 1,
// the negative answer.
func inspectFailed(cmd *cobra.Command, file string, err error) error {
	err = fmt.Errorf("%q: %w", file, err)
	if !errors.Is(err, provenance.ErrReferenceValuesDiffer) {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "measure: %s\n", err)
	return &commandExit{code: exitNegative, err: err}
}
