//go:build !measure_front

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/measure-cc/measure/internal/atomicfile"
	"github.com/measure-cc/measure/oci"
	"github.com/measure-cc/measure/provenance"
)

// pullOptions is pull's flags.
type pullOptions struct {
	registry  registryOptions
	keys      []string
	threshold int
	out       string
	output    outputOptions
}

func (o *pullOptions) AddFlags(fs *pflag.FlagSet) {
	o.registry.AddFlags(fs)
	fs.StringArrayVar(&o.keys, "key", nil, "trusted public key (PKIX PEM, from keygen); repeat for several")
	fs.IntVar(&o.threshold, "threshold", 1, "how many distinct --key keys must have signed each envelope")
	fs.StringVar(&o.out, "out", "", "directory to write the firmware and the verified envelopes to (created if missing)")
	o.output.AddFlags(fs)
}

func newPullCmd() *cobra.Command {
	o := &pullOptions{output: outputOptions{allowed: []string{"files", "json"}}}
	cmd := &cobra.Command{
		Use:   "pull REF@sha256:DIGEST --key PUB [--key PUB]... --out DIR",
		Short: "Fetch firmware by digest from an OCI registry and verify every attached statement",
		Long: `pull fetches the firmware artifact REF (by digest only) and every DSSE
envelope attached to it, and writes them to --out only if all checks pass:
the manifest and blobs match their digests (else exit 17), the annotations
equal the values recomputed from the firmware (17), at least one envelope is
attached (16), and each envelope verifies with the --key keys (at least
--threshold of them) and names the firmware as a subject (10-15, as verify).
Referrers of other artifact types are reported on stderr and not read.
It prints the files written, one per line (--output json: a summary).
See docs/oci.md.`,
		Example: `  measure pull ghcr.io/example/ovmf@sha256:928b953a... --key ci.pub --out fw/
  measure pull "$ref" --key alice.pub --key bob.pub --threshold 2 --out fw/ --output json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.output.validate(); err != nil {
				return err
			}
			if len(o.keys) == 0 {
				return usagef("--key is required")
			}
			if o.threshold < 1 || o.threshold > len(o.keys) {
				return usagef("--threshold %d, want 1 to %d (the number of --key)", o.threshold, len(o.keys))
			}
			if o.out == "" {
				return usagef("--out is required")
			}
			var keys []*provenance.Verifier
			for _, path := range o.keys {
				b, err := readFileLimit(path, maxKeySize)
				if err != nil {
					return err
				}
				v, err := provenance.ParseVerifier(b)
				if err != nil {
					return fmt.Errorf("public key %q: %w", path, err)
				}
				keys = append(keys, v)
			}
			p, err := oci.Pull(cmd.Context(), args[0], oci.PullOptions{Options: o.registry.options(), Keys: keys, Threshold: o.threshold})
			if err != nil {
				return err
			}
			files, out, err := writePulled(o.out, p)
			if err != nil {
				return err
			}
			for _, r := range p.Ignored {
				fmt.Fprintf(cmd.ErrOrStderr(), "measure: ignored referrer %s of artifact type %q\n", r.Digest, r.ArtifactType)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "verified %s: %s and %d attestation(s)\n", p.Ref, p.Name, len(p.Attestations))
			if o.output.format == "json" {
				return writeJSON(cmd.OutOrStdout(), out)
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), strings.Join(files, "\n"))
			return err
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// pullOutput is pull --output json.
type pullOutput struct {
	Ref          string              `json:"ref"`
	Digest       string              `json:"digest"`
	Firmware     string              `json:"firmware"`
	Annotations  map[string]string   `json:"annotations"`
	Attestations []attestationOutput `json:"attestations,omitempty"`
	Ignored      []ignoredOutput     `json:"ignored,omitempty"`
}

// ignoredOutput is a referrer pull did not read.
type ignoredOutput struct {
	Digest       string `json:"digest"`
	ArtifactType string `json:"artifact_type"`
}

// writePulled writes the firmware and the envelopes into dir and returns
// the paths, in that order. Envelopes are named by predicate and manifest
// digest: reference-values.<12 hex>.dsse.json, slsa-provenance...,
// statement... for other predicates.
func writePulled(dir string, p *oci.Pulled) ([]string, pullOutput, error) {
	out := pullOutput{Ref: p.Ref, Digest: p.Digest, Annotations: p.Annotations}
	for _, r := range p.Ignored {
		out.Ignored = append(out.Ignored, ignoredOutput{Digest: r.Digest, ArtifactType: r.ArtifactType})
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, out, err
	}
	fw := filepath.Join(dir, p.Name) // oci.Pull accepts names without directories only
	if err := atomicfile.WriteBytes(fw, 0o644, p.Data); err != nil {
		return nil, out, err
	}
	out.Firmware = fw
	files := []string{fw}
	for _, a := range p.Attestations {
		kind := "statement"
		switch a.PredicateType {
		case provenance.PredicateType:
			kind = "reference-values"
		case provenance.SLSAPredicateType:
			kind = "slsa-provenance"
		}
		_, hex, _ := strings.Cut(a.Digest, ":")
		path := filepath.Join(dir, fmt.Sprintf("%s.%s.dsse.json", kind, hex[:min(12, len(hex))]))
		if err := atomicfile.WriteBytes(path, 0o644, a.Envelope); err != nil {
			return nil, out, err
		}
		files = append(files, path)
		out.Attestations = append(out.Attestations, attestationOutput{Digest: a.Digest, PredicateType: a.PredicateType, File: path, KeyIDs: a.Verified.KeyIDs})
	}
	return files, out, nil
}
