package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/measure-cc/measure/measure"
	"github.com/measure-cc/measure/measure/snp"
)

// vcpuOptions are the per-launch knobs of SEV-ES and SEV-SNP: vCPU count,
// vCPU model (by name, signature or family/model/stepping) and VMM type.
type vcpuOptions struct {
	vcpus    string
	types    []string
	sig      string
	family   string
	model    string
	stepping string
	vmms     []string
	profiles []string
	list     bool
}

func (o *vcpuOptions) AddFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&o.vcpus, "vcpus", "", "vCPU count: N, a list 1,2,4 or a range 1-64")
	fs.StringSliceVar(&o.types, "vcpu-type", nil, "QEMU vCPU model(s), e.g. EPYC-v4 or EPYC-Milan,EPYC-Genoa (see --list-vcpu-types)")
	fs.StringVar(&o.sig, "vcpu-sig", "", "vCPU CPUID signature (CPUID Fn0000_0001 EAX), e.g. 0x800f12")
	fs.StringVar(&o.family, "vcpu-family", "", "vCPU family (with --vcpu-model and --vcpu-stepping)")
	fs.StringVar(&o.model, "vcpu-model", "", "vCPU model number")
	fs.StringVar(&o.stepping, "vcpu-stepping", "", "vCPU stepping")
	fs.StringSliceVar(&o.vmms, "vmm-type", []string{"qemu"}, "VMM type(s): qemu, ec2, gce (case-insensitive)")
	fs.StringSliceVar(&o.profiles, "profile", nil, "launch profile(s): the VMM's initial vCPU state in a period, e.g. qemu-kvm-sev-init for hosts with the legacy KVM_SEV_INIT; each belongs to one --vmm-type, whose default it replaces (docs/profiles.md)")
	fs.BoolVar(&o.list, "list-vcpu-types", false, "print the known vCPU models and their signatures, then exit")
	cmd.MarkFlagsMutuallyExclusive("vcpu-type", "vcpu-sig", "vcpu-family")
	cmd.MarkFlagsMutuallyExclusive("vcpu-type", "vcpu-sig", "vcpu-model")
	cmd.MarkFlagsMutuallyExclusive("vcpu-type", "vcpu-sig", "vcpu-stepping")
	cmd.MarkFlagsRequiredTogether("vcpu-family", "vcpu-model", "vcpu-stepping")
}

// configs expands the flags into SEV-SNP launches, ordered by VMM type,
// vCPU model, then vCPU count. EC2 and GCE ignore the vCPU model, so each of
// their vCPU counts appears once. SEV-ES takes the same launches without
// guest features.
func (o *vcpuOptions) configs(features uint64) ([]measure.SNP, error) {
	if o.vcpus == "" {
		return nil, usagef("--vcpus is required")
	}
	counts, err := parseVCPUs(o.vcpus)
	if err != nil {
		return nil, err
	}
	cpus, err := o.cpuChoices()
	if err != nil {
		return nil, err
	}
	var vmms []measure.VMM
	seen := map[measure.VMM]bool{}
	for _, s := range o.vmms {
		v, err := measure.ParseVMM(s)
		if err != nil {
			return nil, usageError{err}
		}
		if !seen[v] {
			seen[v] = true
			vmms = append(vmms, v)
		}
	}
	if len(vmms) == 0 {
		return nil, usagef("--vmm-type is empty")
	}
	profiles, err := o.profilesOf(vmms)
	if err != nil {
		return nil, err
	}
	var out []measure.SNP
	for _, vmm := range vmms {
		models := []measure.CPU{{}}
		if vmm == measure.VMMQEMU {
			if len(cpus) == 0 {
				return nil, usagef("--vcpu-type, --vcpu-sig or --vcpu-family/--vcpu-model/--vcpu-stepping is required for --vmm-type qemu")
			}
			models = cpus
		}
		for _, p := range profiles[vmm] {
			for _, c := range models {
				for _, n := range counts {
					out = append(out, measure.SNP{VMM: vmm, VCPUs: n, CPU: c, GuestFeatures: features, Profile: p})
				}
			}
		}
	}
	return out, nil
}

// profilesOf returns, for each VMM type, the --profile values that belong
// to it, or its default ("") when none does. A profile of a VMM type not
// in --vmm-type is a usage error: it would be silently unused.
func (o *vcpuOptions) profilesOf(vmms []measure.VMM) (map[measure.VMM][]measure.Profile, error) {
	out := map[measure.VMM][]measure.Profile{}
	for _, s := range o.profiles {
		p, err := measure.ParseProfile(strings.TrimSpace(s))
		if err != nil {
			return nil, usageError{err}
		}
		var vmm measure.VMM
		found := false
		for _, info := range measure.Profiles() {
			if info.Name == p {
				vmm, found = info.VMM, true
			}
		}
		if !found || !slices.Contains(vmms, vmm) {
			return nil, usagef("--profile %s is a profile of --vmm-type %s, which is not among --vmm-type %s", p, vmm, strings.Join(o.vmms, ","))
		}
		if !slices.Contains(out[vmm], p) {
			out[vmm] = append(out[vmm], p)
		}
	}
	for _, vmm := range vmms {
		if len(out[vmm]) == 0 {
			out[vmm] = []measure.Profile{""}
		}
	}
	return out, nil
}

func (o *vcpuOptions) cpuChoices() ([]measure.CPU, error) {
	switch {
	case o.family != "":
		f, err := parseUint("vcpu-family", o.family, 32)
		if err != nil {
			return nil, err
		}
		if f > 0xff+0xf {
			return nil, usagef("--vcpu-family %d, want at most %d", f, 0xff+0xf)
		}
		m, err := parseUint("vcpu-model", o.model, 32)
		if err != nil {
			return nil, err
		}
		if m > 0xff {
			return nil, usagef("--vcpu-model %d, want at most 255", m)
		}
		s, err := parseUint("vcpu-stepping", o.stepping, 32)
		if err != nil {
			return nil, err
		}
		if s > 0xf {
			return nil, usagef("--vcpu-stepping %d, want at most 15", s)
		}
		return []measure.CPU{{Signature: snp.CPUSignature(uint32(f), uint32(m), uint32(s))}}, nil
	case o.sig != "":
		v, err := parseUint("vcpu-sig", o.sig, 32)
		if err != nil {
			return nil, err
		}
		return []measure.CPU{{Signature: uint32(v)}}, nil
	}
	var out []measure.CPU
	seen := map[string]bool{}
	for _, name := range o.types {
		c, err := measure.LookupCPU(strings.TrimSpace(name))
		if err != nil {
			return nil, usageError{err}
		}
		if !seen[c.Name] {
			seen[c.Name] = true
			out = append(out, c)
		}
	}
	return out, nil
}

// printCPUTypes is --list-vcpu-types: a table, or with --output json an
// array of {name, family, model, stepping, signature}; other formats are
// a usage error.
func printCPUTypes(w io.Writer, format string) error {
	switch format {
	case "json":
		type cpu struct {
			Name      string `json:"name"`
			Family    int    `json:"family"`
			Model     int    `json:"model"`
			Stepping  int    `json:"stepping"`
			Signature string `json:"signature"`
		}
		out := []cpu{}
		for _, c := range snp.CPUTypes() {
			out = append(out, cpu{c.Name, int(c.Family), int(c.Model), int(c.Stepping), fmt.Sprintf("%#x", c.Signature())})
		}
		return writeJSON(w, out)
	case "hex", "text", "":
	default:
		return usagef("--list-vcpu-types prints a table or --output json, not %q", format)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tFAMILY\tMODEL\tSTEPPING\tSIGNATURE")
	for _, c := range snp.CPUTypes() {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%#x\n", c.Name, c.Family, c.Model, c.Stepping, c.Signature())
	}
	return tw.Flush()
}

// ignoredOptions are flags sev-snp-measure accepts in a mode that does not
// use them (vCPU flags for SEV, --guest-features for SEV-ES). They are
// accepted, hidden, for drop-in compatibility, checked for well-formedness,
// and change nothing.
type ignoredOptions struct {
	vcpu     vcpuOptions
	features string
	noVCPU   bool
}

func (o *ignoredOptions) AddFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	if o.noVCPU {
		o.vcpu.AddFlags(cmd)
		for _, name := range []string{"vcpus", "vcpu-type", "vcpu-sig", "vcpu-family", "vcpu-model", "vcpu-stepping", "vmm-type", "list-vcpu-types", "profile"} {
			_ = fs.MarkHidden(name)
		}
	}
	fs.StringVar(&o.features, "guest-features", "0x1", "ignored: SEV_FEATURES is 0 under SEV-ES")
	_ = fs.MarkHidden("guest-features")
}

// check rejects malformed values of the ignored flags, so a typo is still
// an error.
func (o *ignoredOptions) check() error {
	if _, err := parseUint("guest-features", o.features, 64); err != nil {
		return err
	}
	if !o.noVCPU {
		return nil
	}
	if o.vcpu.vcpus != "" {
		if _, err := parseVCPUs(o.vcpu.vcpus); err != nil {
			return err
		}
	}
	if _, err := o.vcpu.cpuChoices(); err != nil {
		return err
	}
	for _, s := range o.vcpu.vmms {
		if _, err := measure.ParseVMM(s); err != nil {
			return usageError{err}
		}
	}
	// sev-snp-measure has no profiles: a profile given to SEV, which has
	// no vCPU state to vary, is a mistake, not a compatible no-op.
	if len(o.vcpu.profiles) > 0 {
		return usagef("--profile: SEV launches have no initial vCPU state (VMSA) that a profile could set; profiles are for snp and seves")
	}
	return nil
}
