package main

import (
	"fmt"

	"github.com/spf13/cobra"

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
}

func newSNPCmd() *cobra.Command {
	o := &snpOptions{out: outputOptions{allowed: []string{"hex", "base64", "json", "statement"}}}
	cmd := &cobra.Command{
		Use:   "snp",
		Short: "Compute SEV-SNP launch digests (the attestation report's MEASUREMENT)",
		Example: `  measure snp --ovmf OVMF.fd --vcpus 4 --vcpu-type EPYC-v4
  measure snp --ovmf OVMF.fd --vcpus 1-64 --vcpu-type EPYC-Milan,EPYC-Genoa --vmm-type qemu,ec2 --output json
  measure snp --ovmf OVMF-AmdSev.fd --vcpus 2 --vcpu-type EPYC-Genoa --kernel vmlinuz --initrd initrd.img --append "console=ttyS0"
  measure snp --list-vcpu-types`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.vcpu.list {
				return printCPUTypes(cmd.OutOrStdout())
			}
			recs, err := o.run(cmd)
			if err != nil {
				return err
			}
			return printRecords(cmd.OutOrStdout(), o.out.format, recs)
		},
	}
	o.fw.AddFlags(cmd.Flags())
	o.boot.AddFlags(cmd.Flags())
	o.vcpu.AddFlags(cmd)
	o.out.AddFlags(cmd.Flags())
	o.stmt.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&o.features, "guest-features", "0x1", "VMSA SEV_FEATURES of every vCPU")
	cmd.Flags().StringVar(&o.seed, "snp-ovmf-hash", "", "precomputed firmware digest (see snp-ovmf-hash) to start from, 96 hex digits")
	return cmd
}

func (o *snpOptions) run(cmd *cobra.Command) ([]record, error) {
	if err := o.out.validate(); err != nil {
		return nil, err
	}
	features, err := parseUint("guest-features", o.features, 64)
	if err != nil {
		return nil, err
	}
	var seed *snp.SNPDigest
	if o.seed != "" {
		d, err := snp.ParseSNPDigest(o.seed)
		if err != nil {
			return nil, usagef("--snp-ovmf-hash: %v", err)
		}
		seed = &d
	}
	launches, err := o.vcpu.configs(features)
	if err != nil {
		return nil, err
	}
	fw, err := o.fw.load()
	if err != nil {
		return nil, err
	}
	kh, err := o.boot.hashes(cmd)
	if err != nil {
		return nil, err
	}
	m := snp.NewMeasurer(fw.img, kh, seed)
	base := baseRecord("sev-snp", fw, &o.boot, kh, o.out.format)
	base.stmt = &o.stmt
	if seed != nil {
		base.SNPOVMFHash = seed.String()
	}
	recs := make([]record, 0, len(launches))
	for _, l := range launches {
		d, err := m.SNP(l.cfg)
		if err != nil {
			return nil, fmt.Errorf("firmware %q: %w", fw.path, err)
		}
		r := launchRecord(base, l)
		r.GuestFeatures = fmt.Sprintf("%#x", l.cfg.GuestFeatures)
		r.raw = d[:]
		r.Measurement = d.String()
		recs = append(recs, r)
	}
	return recs, nil
}

// baseRecord fills the inputs common to every configuration. The file
// digest is computed for JSON only.
func baseRecord(platform string, fw *loadedFirmware, boot *kernelOptions, kh *snp.KernelHashes, format string) record {
	r := record{Platform: platform, OVMF: fw.path}
	if format == "json" || format == "statement" {
		r.OVMFSHA256 = fw.sha256()
	}
	if format == "statement" {
		r.ovmfSHA384 = sha384Hex(fw.img.Data())
	}
	if kh != nil {
		r.bootInputs = &bootInputs{
			Kernel: boot.kernel, KernelSHA256: hexOf(kh.Kernel[:]),
			Initrd: boot.initrd, InitrdSHA256: hexOf(kh.Initrd[:]),
			Append: boot.append, CmdlineSHA256: hexOf(kh.Cmdline[:]),
		}
	}
	return r
}

func launchRecord(base record, l launch) record {
	r := base
	r.VMMType = l.cfg.VMM.String()
	r.VCPUs = l.cfg.VCPUs
	if l.hasCPU {
		r.VCPUType = l.cpu.name
		r.VCPUSig = fmt.Sprintf("%#x", l.cpu.sig)
	}
	return r
}
