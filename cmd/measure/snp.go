package main

import (
	"fmt"

	"github.com/spf13/cobra"

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
				return printCPUTypes(cmd.OutOrStdout(), o.out.format)
			}
			m, err := o.run(cmd)
			if err != nil {
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
