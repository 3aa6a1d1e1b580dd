//go:build !measure_front

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/measure-cc/measure/provenance"
)

// keygenOptions is keygen's --out, --alg and --encrypt.
type keygenOptions struct {
	out     string
	alg     string
	encrypt bool
}

func (o *keygenOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.out, "out", "", "path prefix of the key files: writes PREFIX.key (private, mode 0600) and PREFIX.pub")
	fs.StringVar(&o.alg, "alg", string(provenance.KeyAlgorithms[0]), "key algorithm: "+joinAlgs())
	fs.BoolVar(&o.encrypt, "encrypt", false, "encrypt the private key as cosign does, with the password in $"+passwordEnv+" (or $"+cosignPasswordEnv+")")
}

// The environment variables a private key's password is read from, by
// keygen --encrypt and by sign: measure's own first, then cosign's, so
// that a cosign user's set-up works unchanged.
const (
	passwordEnv       = "MEASURE_KEY_PASSWORD"
	cosignPasswordEnv = "COSIGN_PASSWORD"
)

// keyPassword returns the password of private keys from the environment
// and the variable it came from; ok is false when neither is set. A
// variable set to the empty string counts as set: cosign encrypts with an
// empty password when told so.
func keyPassword() (password []byte, from string, ok bool) {
	for _, name := range []string{passwordEnv, cosignPasswordEnv} {
		if v, ok := os.LookupEnv(name); ok {
			return []byte(v), name, true
		}
	}
	return nil, "", false
}

func joinAlgs() string {
	var s []string
	for _, a := range provenance.KeyAlgorithms {
		s = append(s, string(a))
	}
	return strings.Join(s, ", ")
}

func newKeygenCmd() *cobra.Command {
	o := &keygenOptions{}
	cmd := &cobra.Command{
		Use:   "keygen --out PREFIX [--alg ALG] [--encrypt]",
		Short: "Generate a signing key pair for sign and verify",
		Long: `keygen writes a private key as unencrypted PKCS #8 PEM to PREFIX.key, with
mode 0600, and its public key as PKIX PEM to PREFIX.pub. It refuses to
overwrite either file. It prints the key id (the hex SHA-256 of the public
key's DER), which DSSE signatures carry; the private key is never printed.

With --encrypt the private key is encrypted as cosign encrypts its keys
("ENCRYPTED SIGSTORE PRIVATE KEY": scrypt and NaCl secretbox), with the
password in the environment variable MEASURE_KEY_PASSWORD or, when that is
unset, COSIGN_PASSWORD; it must not be empty. sign reads it with the same
variables, and cosign reads it with COSIGN_PASSWORD.`,
		Example: `  measure keygen --out ci
  measure keygen --out release --alg ecdsa-p384
  MEASURE_KEY_PASSWORD="$(cat /run/secrets/key-password)" measure keygen --out ci --encrypt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.out == "" {
				return usagef("--out is required")
			}
			alg, err := provenance.ParseKeyAlgorithm(o.alg)
			if err != nil {
				return usagef("--alg: %v", err)
			}
			var password []byte
			if o.encrypt {
				pw, from, ok := keyPassword()
				switch {
				case !ok:
					return usagef("--encrypt: set the password in $%s (or $%s)", passwordEnv, cosignPasswordEnv)
				case len(pw) == 0:
					return usagef("--encrypt: $%s is empty; the key would be encrypted with no secret", from)
				}
				password = pw
			}
			priv, pub, err := provenance.GenerateKey(alg, nil)
			if err != nil {
				return err
			}
			if o.encrypt {
				if priv, err = provenance.EncryptPrivateKey(priv, password); err != nil {
					return err
				}
			}
			v, err := provenance.ParseVerifier(pub)
			if err != nil {
				return err
			}
			keyPath, pubPath := o.out+".key", o.out+".pub"
			if err := writeKeyPair(keyPath, pubPath, priv, pub); err != nil {
				return err
			}
			id, _ := v.KeyID()
			enc := ""
			if o.encrypt {
				enc = "encrypted, "
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (private, %smode 0600) and %s (public, %s)\n", keyPath, enc, pubPath, alg)
			_, err = fmt.Fprintln(cmd.OutOrStdout(), id)
			return err
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// writeKeyPair writes the public key, then the private key, each whole
// (a temporary file, synced, then linked into place: an existing file is
// never overwritten), the private one with mode 0600, the public one 0644,
// whatever the umask. A private key therefore never exists without its
// public half, even when keygen is killed between the two; a failure
// removes what it linked.
func writeKeyPair(keyPath, pubPath string, priv, pub []byte) (err error) {
	for _, p := range []string{keyPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%q exists; keygen does not overwrite keys", p)
		}
	}
	var linked []string
	defer func() {
		if err != nil {
			for _, p := range linked {
				os.Remove(p)
			}
		}
	}()
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{{pubPath, pub, 0o644}, {keyPath, priv, 0o600}} {
		tmp, err := os.CreateTemp(filepath.Dir(f.path), "."+filepath.Base(f.path)+".tmp-*")
		if err != nil {
			return err
		}
		err = writeAndClose(tmp, f.data, f.mode)
		if err == nil {
			// link, unlike rename, fails when the name exists.
			err = os.Link(tmp.Name(), f.path)
		}
		os.Remove(tmp.Name())
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%q exists; keygen does not overwrite keys", f.path)
		}
		if err != nil {
			return fmt.Errorf("writing %q: %w", f.path, err)
		}
		linked = append(linked, f.path)
	}
	return nil
}

func writeAndClose(f *os.File, data []byte, mode os.FileMode) error {
	err := f.Chmod(mode) // exactly mode, whatever the umask
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
