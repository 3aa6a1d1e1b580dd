//go:build !measure_front

package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/measure-cc/measure/provenance"
)

// verifyOptions is verify's --key, --threshold and --artifact.
type verifyOptions struct {
	keys      []string
	threshold int
	artifacts []string
}

func (o *verifyOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&o.keys, "key", nil, "trusted public key (PKIX PEM, from keygen); repeat for several")
	fs.IntVar(&o.threshold, "threshold", 1, "how many distinct --key keys must have signed")
	fs.StringArrayVar(&o.artifacts, "artifact", nil, "file whose digests must equal a subject's (the firmware, kernel or initrd); repeatable")
}

func newVerifyCmd() *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify --key PUB [--key PUB]... [--threshold N] [--artifact FILE]... ENVELOPE|BUNDLE",
		Short: "Verify a signed statement (DSSE envelope or Sigstore bundle) and print the statement",
		Long: `verify checks a DSSE envelope ("-" for standard input) in this order, and
stops at the first failure with its own exit code (see docs/provenance.md):
the envelope parses (10); its payload type is application/vnd.in-toto+json
(11); no signature from a --key fails to verify (12) and at least --threshold
of the --key keys signed (13); the payload is a valid in-toto statement whose
predicate matches its schema (14); each --artifact's digests equal a
subject's (15). On success it prints the verified statement, byte for byte
as signed, on standard output, and a summary on standard error.

A Sigstore bundle (as sign --bundle or cosign attest-blob --key writes it; a
JSON object with a mediaType) is checked the same way, with the same exit
codes, after it parses (10; a bundle signed keylessly, with a certificate,
is refused with 10). It is verified offline against the --key keys, as
cosign verify-blob-attestation --key --insecure-ignore-tlog does:
transparency-log entries and timestamps it carries are not checked. A
bundle holds one signature, so --threshold above 1 fails (13).`,
		Example: `  measure verify --key ci.pub --artifact OVMF.fd refs.dsse.json
  measure verify --key alice.pub --key bob.pub --key carol.pub --threshold 2 refs.dsse.json > refs.json
  measure sign --bundle --key ci.key refs.json | measure verify --key ci.pub --artifact OVMF.fd -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(o.keys) == 0 {
				return usagef("--key is required")
			}
			if o.threshold < 1 || o.threshold > len(o.keys) {
				return usagef("--threshold %d, want 1 to %d (the number of --key)", o.threshold, len(o.keys))
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
			var artifacts []provenance.Subject
			for _, path := range o.artifacts {
				d, err := fileDigests(path)
				if err != nil {
					return err
				}
				artifacts = append(artifacts, provenance.Subject{Name: path, Digest: d})
			}
			env, err := readInput(cmd, args[0], maxStatementSize)
			if err != nil {
				return err
			}
			res, format, err := provenance.VerifySigned(cmd.Context(), env, provenance.VerifyOptions{Keys: keys, Threshold: o.threshold, Artifacts: artifacts})
			what := "envelope"
			if format == provenance.FormatBundle {
				what = "bundle"
			}
			if err != nil {
				return fmt.Errorf("%s %q: %w", what, args[0], err)
			}
			summary := fmt.Sprintf("verified %s: %d signature(s) from key(s) %s (threshold %d)", args[0], len(res.KeyIDs), strings.Join(res.KeyIDs, ", "), o.threshold)
			if format == provenance.FormatBundle {
				summary = fmt.Sprintf("verified %s (Sigstore bundle, offline with the key; log entries and timestamps not checked): signature from key %s", args[0], strings.Join(res.KeyIDs, ", "))
			}
			for i, s := range res.Subjects {
				summary += fmt.Sprintf("; %s is subject %q", o.artifacts[i], s.Name)
			}
			fmt.Fprintln(cmd.ErrOrStderr(), summary)
			_, err = cmd.OutOrStdout().Write(res.Payload)
			return err
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// fileDigests hashes a regular file of at most maxBlobSize bytes.
func fileDigests(path string) (map[string]string, error) {
	f, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, err := provenance.Digests(&capReader{r: f, left: maxBlobSize, name: path})
	if err != nil {
		return nil, fmt.Errorf("artifact %q: %w", path, err)
	}
	return d, nil
}
