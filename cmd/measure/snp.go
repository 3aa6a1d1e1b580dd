package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/measure-cc/measure/internal/atomicfile"
	"github.com/measure-cc/measure/measure"
	"github.com/measure-cc/measure/measure/snp"
)

type snpOptions struct {
	fw       firmwareOptions
	boot     kernelOptions
	vcpu     vcpuOptions
	out      outputOptions
	stmt     statementOptions
	features string
	seed     string
	svsm     svsmOptions
	dumpVMSA string
}

func newSNPCmd() *cobra.Command {
	o := &snpOptions{out: outputOptions{allowed: []string{"hex", "base64", "json", "statement"}}}
	cmd := &cobra.Command{
		Use:   "snp",
		Short: "Compute SEV-SNP launch digests (the attestation report's MEASUREMENT)",
		Example: `  measure snp --ovmf OVMF.fd --vcpus 4 --vcpu-type EPYC-v4
  measure snp --ovmf OVMF.fd --vcpus 1-64 --vcpu-type EPYC-Milan,EPYC-Genoa --vmm-type qemu,ec2 --output json
  measure snp --ovmf OVMF-AmdSev.fd --vcpus 2 --vcpu-type EPYC-Genoa --kernel vmlinuz --initrd initrd.img --append "console=ttyS0"
  measure snp --list-vcpu-types
  measure snp --ovmf OVMF_CODE.fd --svsm svsm.bin --vars-size 540672 --vcpus 4 --vcpu-type EPYC-v4 --profile qemu-kvm-sev-init
  measure snp --ovmf OVMF.fd --vcpus 2 --vcpu-type EPYC-v4 --dump-vmsa vmsas/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.vcpu.list {
				return printCPUTypes(cmd.OutOrStdout(), o.out.format)
			}
			if o.svsm.path != "" {
				return o.runSVSM(cmd)
			}
			if err := o.svsm.checkUnused(cmd); err != nil {
				return err
			}
			m, err := o.run(cmd)
			if err != nil {
				return err
			}
			if err := m.dumpVMSAs(o.dumpVMSA); err != nil {
				return err
			}
			return m.print(cmd.OutOrStdout(), o.out.format)
		},
	}
	o.fw.AddFlags(cmd.Flags())
	o.boot.AddFlags(cmd.Flags())
	o.vcpu.AddFlags(cmd)
	o.out.AddFlags(cmd.Flags())
	o.stmt.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&o.features, "guest-features", "0x1", "VMSA SEV_FEATURES of every vCPU")
	cmd.Flags().StringVar(&o.seed, "snp-ovmf-hash", "", "precomputed firmware digest (see snp-ovmf-hash) to start from, 96 hex digits")
	o.svsm.AddFlags(cmd)
	addDumpVMSAFlag(cmd, &o.dumpVMSA)
	return cmd
}

func (o *snpOptions) run(cmd *cobra.Command) (*measured, error) {
	if err := o.out.validate(); err != nil {
		return nil, err
	}
	features, err := parseUint("guest-features", o.features, 64)
	if err != nil {
		return nil, err
	}
	var seed *measure.Value
	if o.seed != "" {
		d, err := snp.ParseSNPDigest(o.seed)
		if err != nil {
			return nil, usagef("--snp-ovmf-hash: %v", err)
		}
		v, err := measure.NewValue(measure.Measurement, measure.SHA384, d[:])
		if err != nil {
			return nil, err
		}
		seed = &v
	}
	snps, err := o.vcpu.configs(features)
	if err != nil {
		return nil, err
	}
	launches := make([]measure.Launch, len(snps))
	for i, l := range snps {
		launches[i] = l
	}
	return measureLaunches(cmd, &o.fw, &o.boot, &o.stmt, launches, seed)
}

// measureLaunches loads the firmware and the boot and measures launches,
// all of one SEV-family platform, through the facade.
func measureLaunches(cmd *cobra.Command, fwo *firmwareOptions, bo *kernelOptions, stmt *statementOptions, launches []measure.Launch, seed *measure.Value) (*measured, error) {
	if err := bo.check(cmd); err != nil {
		return nil, err
	}
	fwo.stdin = cmd.InOrStdin()
	fw, err := fwo.load()
	if err != nil {
		return nil, err
	}
	boot, err := bo.load(cmd)
	if err != nil {
		return nil, err
	}
	m := &measured{fw: fw, boot: bo, seed: seed, stmt: stmt}
	if boot != nil {
		m.hashes = boot.KernelHashes()
	}
	opts := measure.Options{SNPFirmwareDigest: seed, KernelHashes: m.hashes}
	if m.results, err = measure.Compute(fw.img, boot, launches, opts); err != nil {
		return nil, fmt.Errorf("firmware %q: %w", fw.path, err)
	}
	return m, nil
}

// svsmOptions is SVSM mode (sev-snp-measure's --mode snp:svsm): --svsm,
// --vars-size or --vars-file, and --sev-snp-measure-fcw-bug.
type svsmOptions struct {
	path     string
	varsSize string
	varsFile string
	fcwBug   bool
}

func (o *svsmOptions) AddFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&o.path, "svsm", "", "SVSM mode: a flat COCONUT-SVSM binary QEMU loads below OVMF_VARS (sev-snp-measure --mode snp:svsm; docs/svsm.md); --ovmf is then OVMF_CODE")
	fs.StringVar(&o.varsSize, "vars-size", "", "SVSM mode: size of OVMF_VARS in bytes")
	fs.StringVar(&o.varsFile, "vars-file", "", "SVSM mode: OVMF_VARS file; only its size is used")
	fs.BoolVar(&o.fcwBug, "sev-snp-measure-fcw-bug", false, "SVSM mode: reproduce sev-snp-measure v0.0.10 and later, whose SVSM VMSA has MXCSR 0x1f80 but FCW 0 (a state no KVM produces); only with profile qemu-kvm-sev-init2")
	cmd.MarkFlagsMutuallyExclusive("vars-size", "vars-file")
}

// checkUnused refuses the SVSM-mode flags without --svsm.
func (o *svsmOptions) checkUnused(cmd *cobra.Command) error {
	for _, name := range []string{"vars-size", "vars-file", "sev-snp-measure-fcw-bug"} {
		if cmd.Flags().Changed(name) {
			return usagef("--%s needs --svsm", name)
		}
	}
	return nil
}

// size returns the OVMF_VARS size from --vars-size or --vars-file.
func (o *svsmOptions) size() (uint64, error) {
	switch {
	case o.varsFile != "":
		f, size, err := openSized(o.varsFile)
		if err != nil {
			return 0, err
		}
		f.Close()
		if size < 0 {
			return 0, unreadable(fmt.Errorf("--vars-file %q is not a regular file: its size is unknown", o.varsFile))
		}
		return uint64(size), nil
	case o.varsSize != "":
		n, err := parseUint("vars-size", o.varsSize, 64)
		if err != nil {
			return 0, err
		}
		if n == 0 || n%4096 != 0 {
			return 0, usagef("--vars-size %d: want the size of OVMF_VARS, a multiple of 4 KiB", n)
		}
		return n, nil
	}
	return 0, usagef("--svsm needs --vars-size or --vars-file")
}

// svsmRecord is the JSON form of an SVSM-mode measurement: an SNP record
// and the SVSM inputs.
type svsmRecord struct {
	record
	SVSM             string `json:"svsm"`
	SVSMSHA256       string `json:"svsm_sha256"`
	VarsSize         uint64 `json:"vars_size"`
	SVSMGPA          string `json:"svsm_gpa"`
	EntryPoint       string `json:"svsm_entry_point"`
	SevSnpMeasureFCW bool   `json:"sev_snp_measure_fcw_bug,omitempty"`
}

// runSVSM is SVSM mode.
func (o *snpOptions) runSVSM(cmd *cobra.Command) error {
	if err := o.out.validate(); err != nil {
		return err
	}
	if o.out.format == "statement" {
		return usagef("--output statement is not supported with --svsm")
	}
	for _, name := range []string{"kernel", "initrd", "append", "snp-ovmf-hash"} {
		if cmd.Flags().Changed(name) {
			return usagef("--%s does not apply with --svsm: the SVSM launch measures no kernel and no firmware seed", name)
		}
	}
	if f, err := parseUint("guest-features", o.features, 64); err != nil {
		return err
	} else if f != snp.SVSMSEVFeatures {
		return usagef("--guest-features %s does not apply with --svsm: the SVSM's VMSA has SEV_FEATURES %#x", o.features, snp.SVSMSEVFeatures)
	}
	for _, v := range o.vcpu.vmms {
		if vmm, err := measure.ParseVMM(v); err != nil || vmm != measure.VMMQEMU {
			return usagef("--vmm-type %s does not apply with --svsm: SVSM mode is QEMU's", v)
		}
	}
	varsSize, err := o.svsm.size()
	if err != nil {
		return err
	}
	snps, err := o.vcpu.configs(snp.SVSMSEVFeatures)
	if err != nil {
		return err
	}
	if o.svsm.fcwBug {
		for _, l := range snps {
			if p := measure.DefaultProfile(measure.VMMQEMU); l.Profile != "" && l.Profile != p {
				return usagef("--sev-snp-measure-fcw-bug applies to --profile %s only, not %s", p, l.Profile)
			}
		}
	}
	o.fw.stdin = cmd.InOrStdin()
	fw, err := o.fw.load()
	if err != nil {
		return err
	}
	svsm, err := loadFirmware(o.svsm.path)
	if err != nil {
		return err
	}
	m, err := measure.NewSVSMMeasurer(fw.img, svsm.img, varsSize)
	if err != nil {
		return fmt.Errorf("--svsm %q with --ovmf %q: %w", svsm.path, fw.path, err)
	}
	layout := m.Layout()
	var recs []svsmRecord
	var pages [][]byte
	for _, l := range snps {
		sl := measure.SVSM{VCPUs: l.VCPUs, CPU: l.CPU, Profile: l.Profile, SevSnpMeasureFCW: o.svsm.fcwBug}
		v, err := m.Measure(sl)
		if err != nil {
			return fmt.Errorf("--svsm %q: %w", svsm.path, err)
		}
		if o.dumpVMSA != "" {
			if pages, err = m.VMSAs(sl); err != nil {
				return err
			}
		}
		r := record{
			Platform: string(measure.PlatformSNP), Profile: effectiveProfile(sl.SNP()),
			OVMF: fw.path, Measurement: v.String(), value: v,
		}
		r.setLaunch(sl.SNP())
		if o.out.format == "json" {
			r.OVMFSHA256 = fw.sha256()
		}
		recs = append(recs, svsmRecord{
			record: r, SVSM: svsm.path, SVSMSHA256: svsm.sha256(), VarsSize: varsSize,
			SVSMGPA: fmt.Sprintf("%#x", layout.SVSMGPA), EntryPoint: fmt.Sprintf("%#x", layout.EntryPoint),
			SevSnpMeasureFCW: o.svsm.fcwBug,
		})
	}
	if o.dumpVMSA != "" {
		if len(recs) != 1 {
			return usagef("--dump-vmsa needs one configuration, not %d", len(recs))
		}
		if err := writeVMSAs(o.dumpVMSA, pages); err != nil {
			return err
		}
	}
	w := cmd.OutOrStdout()
	if o.out.format == "json" {
		return writeJSON(w, recs)
	}
	plain := make([]record, len(recs))
	for i, r := range recs {
		plain[i] = r.record
	}
	return printRecords(w, o.out.format, plain)
}

// addDumpVMSAFlag adds --dump-vmsa DIR.
func addDumpVMSAFlag(cmd *cobra.Command, dir *string) {
	cmd.Flags().StringVar(dir, "dump-vmsa", "", "write each vCPU's 4096-byte VMSA page, as measured, to `DIR`/vmsa0.bin, vmsa1.bin, ... (sev-snp-measure's names; it writes to the current directory); DIR must exist, files there of those names are replaced; one configuration only")
}

// dumpVMSAs is --dump-vmsa for snp and seves: the VMSA pages of the one
// launch measured, written to dir. It does nothing for dir "".
func (m *measured) dumpVMSAs(dir string) error {
	if dir == "" {
		return nil
	}
	if len(m.results) != 1 {
		return usagef("--dump-vmsa needs one configuration, not %d", len(m.results))
	}
	pages, err := measure.NewMeasurer(m.fw.img, nil, measure.Options{}).VMSAs(m.results[0].Launch)
	if err != nil {
		return err
	}
	return writeVMSAs(dir, pages)
}

// writeVMSAs writes pages[i] to dir/vmsa{i}.bin, each file whole or not at
// all. dir must be an existing directory.
func writeVMSAs(dir string, pages [][]byte) error {
	st, err := os.Stat(dir)
	if err != nil {
		return unreadable(fmt.Errorf("--dump-vmsa %q: %w", dir, errors.Unwrap(err)))
	}
	if !st.IsDir() {
		return unreadable(fmt.Errorf("--dump-vmsa %q is not a directory", dir))
	}
	// The set is written whole or not at all: every page to a temporary
	// file first, then all renamed into place; then the vmsaN.bin of an
	// earlier run with more vCPUs are removed, so that DIR holds this
	// run's VMSAs and no others.
	var tmps []string
	defer func() {
		for _, t := range tmps {
			os.Remove(t)
		}
	}()
	for i, p := range pages {
		f, err := os.CreateTemp(dir, fmt.Sprintf(".vmsa%d.bin.tmp-*", i))
		if err != nil {
			return fmt.Errorf("--dump-vmsa: %w", writeFailed(err))
		}
		tmps = append(tmps, f.Name())
		_, err = f.Write(p)
		if err == nil {
			err = f.Chmod(0o644)
		}
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("--dump-vmsa: writing %q: %w", f.Name(), writeFailed(err))
		}
	}
	// A name taken by something other than a file would fail its rename
	// half way through the set: refuse before renaming any.
	for i := range tmps {
		name := filepath.Join(dir, fmt.Sprintf("vmsa%d.bin", i))
		if st, err := os.Lstat(name); err == nil && !st.Mode().IsRegular() && st.Mode()&os.ModeSymlink == 0 {
			return fmt.Errorf("--dump-vmsa: %q is not a file: %w", name, writeFailed(os.ErrExist))
		}
	}
	for i, t := range tmps {
		name := filepath.Join(dir, fmt.Sprintf("vmsa%d.bin", i))
		if err := os.Rename(t, name); err != nil {
			return fmt.Errorf("--dump-vmsa: %w", writeFailed(err))
		}
		tmps[i] = ""
	}
	tmps = nil
	for i := len(pages); ; i++ {
		stale := filepath.Join(dir, fmt.Sprintf("vmsa%d.bin", i))
		if st, err := os.Lstat(stale); err != nil || !st.Mode().IsRegular() {
			break
		}
		if err := os.Remove(stale); err != nil {
			return fmt.Errorf("--dump-vmsa: removing the stale %q: %w", stale, writeFailed(err))
		}
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("--dump-vmsa: %w", writeFailed(err))
	}
	defer d.Close()
	return d.Sync()
}

// writeFailed marks err as an output that could not be written (exit 4),
// not an input that could not be read.
func writeFailed(err error) error { return errors.Join(atomicfile.ErrWrite, err) }
