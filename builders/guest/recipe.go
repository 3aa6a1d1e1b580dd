// Package guest builds everything a confidential guest with measured direct
// boot launches from, and the launch measurements it must produce: firmware
// (builders/firmware), kernel (builders/kernel) and initramfs
// (builders/initramfs) from their recipes, the kernel command line, the
// SEV-SNP launch digests (and TDX MRTD, when the firmware has TDVF
// metadata) computed from the built files as an in-toto reference-values
// statement that names every artifact as a subject, and one SLSA provenance
// statement per artifact. Check builds everything twice and compares the
// bytes.
//
// It does not boot the guest (scripts/boot-guest.sh does) nor sign the
// statements (see provenance and `measure sign`).
package guest

import (
	"embed"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/measure-cc/measure/builders/catalog"
	"github.com/measure-cc/measure/builders/initramfs"
	"github.com/measure-cc/measure/measure"
)

//go:embed recipes/*.yaml
var embedded embed.FS

// Recipe names the parts of a guest and the launch configurations to
// compute reference values for. docs/guest.md documents each field.
type Recipe struct {
	// Name identifies the recipe ("minimal").
	Name string `json:"name"`
	// Description says what the guest is, in one line.
	Description string `json:"description"`
	// Firmware and Kernel name embedded recipes and the output of each that
	// the guest boots from.
	Firmware Part `json:"firmware"`
	Kernel   Part `json:"kernel"`
	// Initramfs says what goes into the initramfs.
	Initramfs initramfs.Spec `json:"initramfs"`
	// Cmdline is the kernel command line, byte for byte (QEMU -append).
	Cmdline string `json:"cmdline"`
	// SNP are the SEV-SNP launch configurations.
	SNP SNPConfigs `json:"snp"`
	// TDX says how MRTD is computed when the firmware has TDVF metadata.
	TDX TDXConfig `json:"tdx,omitempty"`
}

// Part is a build by another builder.
type Part struct {
	// Recipe is the name of an embedded recipe.
	Recipe string `json:"recipe"`
	// Output is the name of the build output the guest uses.
	Output string `json:"output"`
}

// SNPConfigs are the launch configurations the SEV-SNP reference values
// cover: every VMM type, vCPU model and count.
type SNPConfigs struct {
	// VMMTypes are qemu, ec2 or gce.
	VMMTypes []string `json:"vmmTypes"`
	// VCPUs are the vCPU counts.
	VCPUs []int `json:"vcpus"`
	// VCPUTypes are QEMU vCPU model names (EPYC-v4, EPYC-Milan, ...); only
	// qemu uses them.
	VCPUTypes []string `json:"vcpuTypes"`
	// GuestFeatures is the VMSA SEV_FEATURES, 0x-hex.
	GuestFeatures string `json:"guestFeatures"`
}

// TDXConfig is how the TDX MRTD is computed.
type TDXConfig struct {
	// PageAddOrder is single-pass (upstream KVM, QEMU >= 9) or two-pass.
	PageAddOrder string `json:"pageAddOrder,omitempty"`
}

// Launch is one SEV-SNP launch configuration; its CPU has a model name for
// qemu and none for ec2 and gce.
type Launch = measure.SNP

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*$`)

// ParseRecipe parses and validates a YAML recipe. Unknown fields are errors.
func ParseRecipe(data []byte) (*Recipe, error) {
	var r Recipe
	if err := yaml.UnmarshalStrict(data, &r); err != nil {
		return nil, fmt.Errorf("guest recipe: %w", err)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Validate checks that r is complete and its launch configurations parse.
func (r *Recipe) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("guest recipe %q: "+format, append([]any{r.Name}, a...)...))
	}
	if !nameRE.MatchString(r.Name) {
		bad("name must match %s", nameRE)
	}
	for _, p := range []struct {
		what string
		part Part
	}{{"firmware", r.Firmware}, {"kernel", r.Kernel}} {
		if !nameRE.MatchString(p.part.Recipe) || p.part.Output == "" || strings.Contains(p.part.Output, "/") {
			bad("%s recipe %q output %q: want an embedded recipe name and a file name", p.what, p.part.Recipe, p.part.Output)
		}
	}
	if r.Initramfs.Init == "" {
		bad("initramfs has no init program")
	}
	if strings.ContainsAny(r.Cmdline, "\x00\n") {
		bad("cmdline %q holds a NUL or a newline", r.Cmdline)
	}
	if _, err := r.Launches(); err != nil {
		bad("%v", err)
	}
	if _, err := r.PageAddOrder(); err != nil {
		bad("%v", err)
	}
	return errors.Join(errs...)
}

// Launches expands the SNP configurations, ordered by VMM type, vCPU model
// and vCPU count, as `measure snp` orders them.
func (r *Recipe) Launches() ([]Launch, error) {
	c := r.SNP
	if len(c.VMMTypes) == 0 || len(c.VCPUs) == 0 {
		return nil, errors.New("snp needs vmmTypes and vcpus")
	}
	features, err := strconv.ParseUint(c.GuestFeatures, 0, 64)
	if err != nil || !strings.HasPrefix(c.GuestFeatures, "0x") {
		return nil, fmt.Errorf("snp guestFeatures %q: want a 0x-hex number", c.GuestFeatures)
	}
	counts := append([]int(nil), c.VCPUs...)
	sort.Ints(counts)
	for i, n := range counts {
		if n < 1 || n > measure.MaxVCPUs || (i > 0 && n == counts[i-1]) {
			return nil, fmt.Errorf("snp vcpus %v: want distinct counts from 1 to %d", c.VCPUs, measure.MaxVCPUs)
		}
	}
	var out []Launch
	for _, v := range c.VMMTypes {
		vmm, err := measure.ParseVMM(v)
		if err != nil {
			return nil, fmt.Errorf("snp vmmTypes: %w", err)
		}
		types := []string{""}
		if vmm == measure.VMMQEMU {
			if len(c.VCPUTypes) == 0 {
				return nil, errors.New("snp vcpuTypes is empty, and qemu needs a vCPU model")
			}
			types = c.VCPUTypes
		}
		for _, t := range types {
			var cpu measure.CPU
			if t != "" {
				if cpu, err = measure.LookupCPU(t); err != nil {
					return nil, fmt.Errorf("snp vcpuTypes: %w", err)
				}
			}
			for _, n := range counts {
				out = append(out, Launch{VMM: vmm, VCPUs: n, CPU: cpu, GuestFeatures: features})
			}
		}
	}
	return out, nil
}

// PageAddOrder returns the TDX page-add order; single-pass when unset.
func (r *Recipe) PageAddOrder() (measure.PageAddOrder, error) {
	if r.TDX.PageAddOrder == "" {
		return measure.SinglePass, nil
	}
	o, err := measure.ParsePageAddOrder(r.TDX.PageAddOrder)
	if err != nil {
		return 0, fmt.Errorf("tdx pageAddOrder: %w", err)
	}
	return o, nil
}

// Recipes returns the embedded recipes, sorted by name.
func Recipes() ([]*Recipe, error) {
	return catalog.Load(embedded, ParseRecipe, recipeName)
}

func recipeName(r *Recipe) string { return r.Name }

// DefaultRecipe is the recipe `measure build guest` uses without --recipe.
const DefaultRecipe = "minimal"

// ErrUnknownRecipe reports a recipe name that is not embedded.
var ErrUnknownRecipe = errors.New("no embedded guest recipe of that name")

// LookupRecipe returns the embedded recipe called name.
func LookupRecipe(name string) (*Recipe, error) {
	rs, err := Recipes()
	if err != nil {
		return nil, err
	}
	return catalog.Lookup(rs, recipeName, name, "guest recipe", ErrUnknownRecipe)
}

// RecipeYAML returns the YAML text of the embedded guest recipe called name,
// to start a recipe of one's own from.
func RecipeYAML(name string) ([]byte, error) {
	if _, err := LookupRecipe(name); err != nil {
		return nil, err
	}
	return embedded.ReadFile("recipes/" + name + ".yaml")
}
