//go:build !measure_front

package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/measure-cc/measure/oci"
	"github.com/measure-cc/measure/ovmf"
)

// registryOptions is how push and pull reach a registry: --insecure.
// Credentials come from Docker's configuration (docker login, credential
// helpers).
type registryOptions struct {
	insecure bool
}

func (o *registryOptions) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.insecure, "insecure", false, "allow plain HTTP to the registry (loopback and private addresses use it anyway)")
}

func (o *registryOptions) options() oci.Options {
	return oci.Options{Insecure: o.insecure, UserAgent: "measure/" + toolVersion()}
}

// pushOptions is push's flags.
type pushOptions struct {
	registry registryOptions
	firmware string
	name     string
	attach   []string
	output   outputOptions
}

func (o *pushOptions) AddFlags(fs *pflag.FlagSet) {
	o.registry.AddFlags(fs)
	fs.StringVar(&o.firmware, "firmware", "", "firmware image to push (OVMF.fd, or the CODE part of a split image)")
	fs.StringVar(&o.name, "name", "", "file name to store it under (default: --firmware's name)")
	fs.StringArrayVar(&o.attach, "attach", nil, "DSSE envelope (from sign) to attach as a referrer; repeatable")
	o.output.AddFlags(fs)
}

func newPushCmd() *cobra.Command {
	o := &pushOptions{output: outputOptions{allowed: []string{"ref", "json"}}}
	cmd := &cobra.Command{
		Use:   "push REF --firmware FILE [--attach ENVELOPE]...",
		Short: "Store firmware in an OCI registry with its signed statements attached",
		Long: `push stores --firmware under REF (a tag) as an OCI artifact of type
application/vnd.measure-cc.firmware.v1, with its SHA-384, SEV-SNP firmware
digest and MEASUREMENT (QEMU, 4 EPYC-v4 vCPUs) and TDX MRTD (measure tdx's
defaults) as annotations, and attaches each --attach DSSE envelope as a
referrer (OCI 1.1 subject; the referrers tag schema where the registry lacks
the referrers API). Each envelope's statement must name the firmware as a
subject. It prints the firmware's reference by digest, which is what pull
takes. Credentials come from Docker's configuration. See docs/oci.md.`,
		Example: `  measure snp --ovmf OVMF.fd --vcpus 1-64 --vcpu-type EPYC-Milan,EPYC-Genoa -o statement > refs.json
  measure sign --key ci.key refs.json > refs.dsse.json
  measure push ghcr.io/example/ovmf:2025.02 --firmware OVMF.fd --attach refs.dsse.json --attach provenance.dsse.json
  ref=$(measure push localhost:5000/ovmf:test --firmware OVMF.fd --attach refs.dsse.json)`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.output.validate(); err != nil {
				return err
			}
			if o.firmware == "" {
				return usagef("--firmware is required")
			}
			data, err := readFileLimit(o.firmware, ovmf.MaxImageSize)
			if err != nil {
				return err
			}
			fw := oci.Firmware{Name: o.name, Data: data}
			if fw.Name == "" {
				fw.Name = filepath.Base(o.firmware)
			}
			var envs [][]byte
			for _, path := range o.attach {
				b, err := readFileLimit(path, maxStatementSize)
				if err != nil {
					return err
				}
				envs = append(envs, b)
			}
			p, err := oci.Push(cmd.Context(), args[0], fw, envs, o.registry.options())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "pushed %s as %s with %d attestation(s)\n", o.firmware, p.Ref, len(p.Attestations))
			if o.output.format == "ref" {
				_, err = fmt.Fprintln(cmd.OutOrStdout(), p.Ref)
				return err
			}
			out := pushOutput{Ref: p.Ref, Digest: p.Digest, Annotations: p.Annotations}
			for i, a := range p.Attestations {
				out.Attestations = append(out.Attestations, attestationOutput{Digest: a.Digest, PredicateType: a.PredicateType, File: o.attach[i]})
			}
			return writeJSON(cmd.OutOrStdout(), out)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// pushOutput is push --output json.
type pushOutput struct {
	Ref          string              `json:"ref"`
	Digest       string              `json:"digest"`
	Annotations  map[string]string   `json:"annotations"`
	Attestations []attestationOutput `json:"attestations,omitempty"`
}

// attestationOutput is one attached envelope in push's and pull's JSON.
type attestationOutput struct {
	Digest        string   `json:"digest"`
	PredicateType string   `json:"predicate_type"`
	File          string   `json:"file"`
	KeyIDs        []string `json:"key_ids,omitempty"`
}
