package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/measure-cc/measure/measure/snp"
)

type sevesOptions struct {
	fw      firmwareOptions
	boot    kernelOptions
	vcpu    vcpuOptions
	out     outputOptions
	stmt    statementOptions
	ignored ignoredOptions
}

func newSEVESCmd() *cobra.Command {
	o := &sevesOptions{out: outputOptions{allowed: []string{"hex", "base64", "json", "statement"}}}
	cmd := &cobra.Command{
		Use:   "seves",
		Short: "Compute SEV-ES launch digests",
		Example: `  measure seves --ovmf OVMF.fd --vcpus 2 --vcpu-type EPYC-Rome
  measure seves --ovmf OVMF.fd --vcpus 1,2,4,8 --vcpu-type EPYC-Milan --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.vcpu.list {
				return printCPUTypes(cmd.OutOrStdout())
			}
			if err := o.out.validate(); err != nil {
				return err
			}
			if err := o.ignored.check(); err != nil {
				return err
			}
			launches, err := o.vcpu.configs(0)
			if err != nil {
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
			m := snp.NewMeasurer(fw.img, kh, nil)
			base := baseRecord("sev-es", fw, &o.boot, kh, o.out.format)
			base.stmt = &o.stmt
			recs := make([]record, 0, len(launches))
			for _, l := range launches {
				d, err := m.SEVES(l.cfg)
				if err != nil {
					return fmt.Errorf("firmware %q: %w", fw.path, err)
				}
				r := launchRecord(base, l)
				r.raw = d[:]
				r.Measurement = d.String()
				recs = append(recs, r)
			}
			return printRecords(cmd.OutOrStdout(), o.out.format, recs)
		},
	}
	o.fw.AddFlags(cmd.Flags())
	o.boot.AddFlags(cmd.Flags())
	o.vcpu.AddFlags(cmd)
	o.out.AddFlags(cmd.Flags())
	o.stmt.AddFlags(cmd.Flags())
	o.ignored.AddFlags(cmd)
	return cmd
}
