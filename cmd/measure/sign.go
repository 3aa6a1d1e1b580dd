//go:build !measure_front

package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/measure-cc/measure/provenance"
)

// maxStatementSize bounds a statement or envelope read by sign and verify.
const maxStatementSize = 16 << 20

// maxKeySize bounds a PEM key file.
const maxKeySize = 64 << 10

// signOptions is sign's --key and --bundle.
type signOptions struct {
	keys   []string
	bundle bool
}

func (o *signOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&o.keys, "key", nil, "private key (PKCS #8 PEM from keygen, or encrypted as by keygen --encrypt and cosign); repeat for several signatures")
	fs.BoolVar(&o.bundle, "bundle", false, "write a Sigstore bundle (v0.3, DSSE content, one --key) for cosign and sigstore-go instead of a DSSE envelope")
	addOutputFileFlag(fs)
}

func newSignCmd() *cobra.Command {
	o := &signOptions{}
	cmd := &cobra.Command{
		Use:   "sign --key KEY [--key KEY]... [--bundle] STATEMENT",
		Short: "Sign an in-toto statement into a DSSE envelope or a Sigstore bundle",
		Long: `sign checks that STATEMENT ("-" for standard input) is a valid in-toto
Statement v1 whose predicate matches its schema, and prints a DSSE envelope
(payload type application/vnd.in-toto+json) that holds it byte for byte, with
one signature per --key. Each signature's keyid is the hex SHA-256 of the
public key's DER.

With --bundle it prints a Sigstore bundle instead (media type
application/vnd.dev.sigstore.bundle.v0.3+json) holding that DSSE envelope
with the one signature of its one --key, and the key's hint (its OpenSSH
SHA-256 fingerprint) as verification material: no certificate, no
transparency-log entry. verify reads it, and so do cosign
verify-blob-attestation --key K --insecure-ignore-tlog and sigstore-go
(docs/provenance.md).

A --key encrypted as keygen --encrypt and cosign write it is decrypted with
the password in $MEASURE_KEY_PASSWORD, or else $COSIGN_PASSWORD.`,
		Example: `  measure snp --ovmf OVMF.fd --vcpus 1-64 --vcpu-type EPYC-Milan,EPYC-Genoa --output statement > refs.json
  measure sign --key ci.key refs.json --output-file refs.dsse.json
  measure sign --key alice.key --key bob.key refs.json > refs.dsse.json
  measure snp --ovmf OVMF.fd --vcpus 4 --vcpu-type EPYC-v4 -o statement | measure sign --key ci.key - > refs.dsse.json
  measure sign --bundle --key ci.key refs.json --output-file refs.sigstore.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(o.keys) == 0 {
				return usagef("--key is required")
			}
			if o.bundle && len(o.keys) != 1 {
				return usagef("--bundle: a Sigstore bundle holds one signature; give one --key, not %d", len(o.keys))
			}
			var signers []*provenance.Signer
			for _, path := range o.keys {
				s, err := loadSigner(path, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				signers = append(signers, s)
			}
			stmt, err := readInput(cmd, args[0], maxStatementSize)
			if err != nil {
				return err
			}
			var env []byte
			if o.bundle {
				env, err = provenance.SignBundle(cmd.Context(), stmt, signers[0])
			} else {
				env, err = provenance.Sign(cmd.Context(), stmt, signers...)
			}
			if err != nil {
				return fmt.Errorf("statement %q: %w", args[0], err)
			}
			_, err = cmd.OutOrStdout().Write(env)
			return err
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// loadSigner reads a private key, plain or encrypted (with the password from
// the environment: keyPassword), warning on stderr when others may read it.
// Errors name the file and the variable the password came from, never the
// key or the password.
func loadSigner(path string, stderr io.Writer) (*provenance.Signer, error) {
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(stderr, "measure: warning: private key %q has mode %#o; others may read it (chmod 600)\n", path, st.Mode().Perm())
	}
	b, err := readFileLimit(path, maxKeySize)
	if err != nil {
		return nil, err
	}
	from := ""
	password := func() ([]byte, error) {
		pw, name, ok := keyPassword()
		if !ok {
			return nil, fmt.Errorf("%w: set its password in $%s (or $%s)", provenance.ErrNoPassword, passwordEnv, cosignPasswordEnv)
		}
		from = name
		return pw, nil
	}
	s, err := provenance.LoadSigner(b, password)
	if errors.Is(err, provenance.ErrKeyPassword) {
		return nil, fmt.Errorf("private key %q: %w (password from $%s)", path, err, from)
	}
	if err != nil {
		return nil, fmt.Errorf("private key %q: %w", path, err)
	}
	return s, nil
}

// readInput reads the file at path, or standard input for "-", up to limit
// bytes.
func readInput(cmd *cobra.Command, path string, limit int64) ([]byte, error) {
	if path != "-" {
		return readFileLimit(path, limit)
	}
	b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), limit+1))
	if err != nil {
		return nil, unreadable(fmt.Errorf("reading standard input: %w", err))
	}
	if int64(len(b)) > limit {
		return nil, unreadable(fmt.Errorf("standard input is larger than %d bytes", limit))
	}
	return b, nil
}
