package main

import (
	"github.com/spf13/cobra"

	"github.com/measure-cc/measure/measure"
)

type sevesOptions struct {
	fw      firmwareOptions
	boot    kernelOptions
	vcpu    vcpuOptions
	out     outputOptions
	stmt    statementOptions
	ignored ignoredOptions
	// dumpVMSA is --dump-vmsa DIR.
	dumpVMSA string
}

func newSEVESCmd() *cobra.Command {
	o := &sevesOptions{out: outputOptions{allowed: []string{"hex", "base64", "json", "statement"}}}
	cmd := &cobra.Command{
		Use:   "seves",
		Short: "Compute SEV-ES launch digests",
		Example: `  measure seves --ovmf OVMF.fd --vcpus 2 --vcpu-type EPYC-Rome
  measure seves --ovmf OVMF.fd --vcpus 1,2,4,8 --vcpu-type EPYC-Milan --output json
  measure seves --ovmf OVMF.fd --vcpus 2 --vcpu-type EPYC-v4 --dump-vmsa vmsas/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.vcpu.list {
				return printCPUTypes(cmd.OutOrStdout(), o.out.format)
			}
			if err := o.out.validate(); err != nil {
				return err
			}
			if err := o.ignored.check(); err != nil {
				return err
			}
			snps, err := o.vcpu.configs(0)
			if err != nil {
				return err
			}
			launches := make([]measure.Launch, len(snps))
			for i, l := range snps {
				launches[i] = measure.SEVES{VMM: l.VMM, VCPUs: l.VCPUs, CPU: l.CPU, Profile: l.Profile}
			}
			m, err := measureLaunches(cmd, &o.fw, &o.boot, &o.stmt, launches, nil)
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
	o.ignored.AddFlags(cmd)
	addDumpVMSAFlag(cmd, &o.dumpVMSA)
	return cmd
}
