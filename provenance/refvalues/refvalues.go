// Package refvalues maps launch measurements (package measure) to the
// reference-values predicate (provenance.ReferenceValues): which register a
// value is for, under which digest algorithm, and the launch configuration
// it was computed for. It is the one such mapping; the CLI's statements, the
// guest and firmware builders and anything else that records reference
// values go through it, so that two of them cannot describe the same launch
// differently.
//
// It sits outside the measurement core because the predicate does: the
// core stays standard library only.
package refvalues

import (
	"fmt"

	"github.com/measure-cc/measure/measure"
	"github.com/measure-cc/measure/provenance"
)

// New returns the reference values of results, the measurements of one
// firmware (fw, its name and file digests) on one platform, with boot the
// record of the measured direct boot they share (nil for none; see Boot).
// The predicate is validated.
func New(fw provenance.Firmware, boot *provenance.Boot, results []measure.Result, tool provenance.Tool) (*provenance.ReferenceValues, error) {
	if len(results) == 0 {
		return nil, fmt.Errorf("reference values of %q: no measurements", fw.Name)
	}
	platform := results[0].Launch.Platform()
	rv := &provenance.ReferenceValues{Platform: string(platform), Firmware: fw, Boot: boot, Tool: tool}
	for _, r := range results {
		if p := r.Launch.Platform(); p != platform {
			return nil, fmt.Errorf("reference values of %q: measurements of %s and %s cannot share one predicate", fw.Name, platform, p)
		}
		rv.Values = append(rv.Values, provenance.ReferenceValue{
			Configuration: Configuration(r.Launch),
			Measurements:  Measurements(r.Values),
		})
	}
	if err := rv.Validate(); err != nil {
		return nil, err
	}
	return rv, nil
}

// Configuration returns what the predicate records of a launch: for SEV-ES
// and SEV-SNP the VMM type and vCPU count, the vCPU model and signature
// where the VMM measures them (QEMU), and for SEV-SNP the guest features.
// SEV launches have no configuration; a TDX launch records its page-add
// order (which changes MRTD), QEMU version and memory size.
func Configuration(l measure.Launch) provenance.Configuration {
	switch l := l.(type) {
	case measure.SEVES:
		c := vcpuConfiguration(l.VMM, l.VCPUs, l.CPU)
		c.Profile = string(profileOf(l.VMM, l.Profile))
		return c
	case measure.SNP:
		c := vcpuConfiguration(l.VMM, l.VCPUs, l.CPU)
		c.GuestFeatures = fmt.Sprintf("%#x", l.GuestFeatures)
		c.Profile = string(profileOf(l.VMM, l.Profile))
		return c
	case measure.TDX:
		return provenance.Configuration{PageAddOrder: l.PageAddOrder.String(), QEMUVersion: l.QEMU.String(), Memory: measure.FormatMemorySize(l.Memory)}
	}
	return provenance.Configuration{}
}

// profileOf is the profile the predicate records: a launch's own when it
// is not its VMM's default, else none. A v1 predicate without a profile
// means the default, as it did before profiles existed, so statements of
// default launches stay readable by every v1 verifier; one that names a
// profile is refused by verifiers that predate profiles, which cannot tell
// what it assumed (the schema admits no unknown field).
func profileOf(vmm measure.VMM, p measure.Profile) measure.Profile {
	if p == measure.DefaultProfile(vmm) {
		return ""
	}
	return p
}

func vcpuConfiguration(vmm measure.VMM, n int, cpu measure.CPU) provenance.Configuration {
	c := provenance.Configuration{VMMType: vmm.String(), VCPUs: n}
	if vmm == measure.VMMQEMU {
		c.VCPUType = cpu.Name
		c.VCPUSig = fmt.Sprintf("%#x", cpu.Signature)
	}
	return c
}

// Measurements returns the predicate's record of values, in order.
func Measurements(vs []measure.Value) []provenance.Measurement {
	out := make([]provenance.Measurement, len(vs))
	for i, v := range vs {
		out[i] = provenance.Measurement{Register: string(v.Register), Digest: Digest(v)}
	}
	return out
}

// Digest returns a value as a digest set: its algorithm and lower-case hex.
func Digest(v measure.Value) map[string]string {
	return map[string]string{string(v.Algorithm): v.String()}
}

// Boot returns the record of a measured direct boot: the kernel's and
// initrd's file names (initrd "" for none) and the command line, with the
// SHA-256 digests of the SEV hashes table that the firmware checks.
func Boot(kernel, initrd, cmdline string, kh *measure.KernelHashes) *provenance.Boot {
	sha := func(d [32]byte) map[string]string { return map[string]string{"sha256": fmt.Sprintf("%x", d[:])} }
	return &provenance.Boot{
		Kernel:  provenance.File{Name: kernel, Digest: sha(kh.Kernel)},
		Initrd:  provenance.File{Name: initrd, Digest: sha(kh.Initrd)},
		Cmdline: provenance.Cmdline{Value: cmdline, Digest: sha(kh.Cmdline)},
	}
}
