package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/measure-cc/measure/measure/snp"
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
			fw, err := o.fw.load()
			if err != nil {
				return err
			}
			kh, err := o.boot.hashes(cmd)
			if err != nil {
				return err
			}
			d, err := snp.NewMeasurer(fw.img, kh, nil).SEV()
			if err != nil {
				return fmt.Errorf("firmware %q: %w", fw.path, err)
			}
			r := baseRecord("sev", fw, &o.boot, kh, o.out.format)
			r.stmt = &o.stmt
			r.raw = d[:]
			r.Measurement = d.String()
			return printRecords(cmd.OutOrStdout(), o.out.format, []record{r})
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
			fw, err := o.fw.load()
			if err != nil {
				return err
			}
			d := snp.FirmwareDigest(fw.img)
			return printRecords(cmd.OutOrStdout(), o.out.format, []record{{raw: d[:]}})
		},
	}
	o.fw.AddFlags(cmd.Flags())
	o.out.AddFlags(cmd.Flags())
	return cmd
}

func hexOf(b []byte) string { return fmt.Sprintf("%x", b) }
