package main

import (
	"github.com/spf13/cobra"

	"github.com/measure-cc/measure/measure"
)

type sevOptions struct {
	fw      firmwareOptions
	boot    kernelOptions
	out     outputOptions
	stmt    statementOptions
	ignored ignoredOptions
}

func newSEVCmd() *cobra.Command {
	o := &sevOptions{
		out:     outputOptions{allowed: []string{"hex", "base64", "json", "statement"}},
		ignored: ignoredOptions{noVCPU: true},
	}
	cmd := &cobra.Command{
		Use:   "sev",
		Short: "Compute the SEV (without -ES) launch digest",
		Example: `  measure sev --ovmf OVMF.fd
  measure sev --ovmf OVMF-AmdSev.fd --kernel vmlinuz --initrd initrd.img --append "console=ttyS0"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.out.validate(); err != nil {
				return err
			}
			if err := o.ignored.check(); err != nil {
				return err
			}
			m, err := measureLaunches(cmd, &o.fw, &o.boot, &o.stmt, []measure.Launch{measure.SEV{}}, nil)
			if err != nil {
				return err
			}
			return m.print(cmd.OutOrStdout(), o.out.format)
		},
	}
	o.fw.AddFlags(cmd.Flags())
	o.boot.AddFlags(cmd.Flags())
	o.out.AddFlags(cmd.Flags())
	o.stmt.AddFlags(cmd.Flags())
	o.ignored.AddFlags(cmd)
	return cmd
}

type snpOVMFHashOptions struct {
	fw  firmwareOptions
	out outputOptions
}

func newSNPOVMFHashCmd() *cobra.Command {
	o := &snpOVMFHashOptions{out: outputOptions{allowed: []string{"hex", "base64"}}}
	cmd := &cobra.Command{
		Use:   "snp-ovmf-hash",
		Short: "Compute the SEV-SNP digest of the firmware pages alone, a seed for --snp-ovmf-hash",
		Example: `  seed=$(measure snp-ovmf-hash --ovmf OVMF.fd)
  measure snp --ovmf OVMF.fd --snp-ovmf-hash "$seed" --vcpus 4 --vcpu-type EPYC-v4`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.out.validate(); err != nil {
				return err
			}
			o.fw.stdin = cmd.InOrStdin()
			fw, err := o.fw.load()
			if err != nil {
				return err
			}
			return printRecords(cmd.OutOrStdout(), o.out.format, []record{{value: measure.SNPFirmwareDigest(fw.img)}})
		},
	}
	o.fw.AddFlags(cmd.Flags())
	o.out.AddFlags(cmd.Flags())
	return cmd
}
