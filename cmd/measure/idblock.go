//go:build !measure_front

package main

import (
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/measure-cc/measure/internal/atomicfile"
	"github.com/measure-cc/measure/measure/snp/idblock"
)

// idBlockOptions are snp-create-id-block's flags.
type idBlockOptions struct {
	measurement         string
	idKey, authorKey    string
	familyID, imageID   string
	guestSVN            uint32
	policy              string
	blockFile, authFile string
	out                 outputOptions
}

func (o *idBlockOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.measurement, "measurement", "", "the launch digest the ID block admits: 48 bytes in hex or base64 (as sev-snp-measure's --measurement)")
	fs.StringVar(&o.idKey, "id-key", "", "P-384 private key (PEM: PKCS #8 as measure keygen --alg ecdsa-p384 writes, or SEC 1 EC PRIVATE KEY) that signs the ID block")
	fs.StringVar(&o.authorKey, "author-key", "", "P-384 private key (PEM) that signs the ID key; optional (sev-snp-measure requires it)")
	fs.StringVar(&o.familyID, "family-id", "", "FAMILY_ID, up to 16 bytes of hex (zero-padded; default zero)")
	fs.StringVar(&o.imageID, "image-id", "", "IMAGE_ID, up to 16 bytes of hex (zero-padded; default zero)")
	fs.Uint32Var(&o.guestSVN, "guest-svn", 0, "GUEST_SVN")
	fs.StringVar(&o.policy, "policy", fmt.Sprintf("%#x", idblock.DefaultPolicy), "guest POLICY, which must equal the policy the guest is launched with (QEMU's sev-snp-guest policy)")
	fs.StringVar(&o.blockFile, "id-block-file", "", "also write the 96-byte ID block, raw, to `FILE`")
	fs.StringVar(&o.authFile, "id-auth-file", "", "also write the 4096-byte ID authentication information, raw, to `FILE`")
	o.out.AddFlags(fs)
}

// idBlockFlagNames maps sev-snp-measure's flag names to ours.
var idBlockFlagNames = map[string]string{"idkey": "id-key", "authorkey": "author-key"}

func newIDBlockCmd() *cobra.Command {
	o := &idBlockOptions{out: outputOptions{allowed: []string{"text", "qemu", "json"}}}
	cmd := &cobra.Command{
		Use:   "snp-create-id-block --measurement LD --id-key id.pem [--author-key author.pem]",
		Short: "Create an SEV-SNP ID block and ID authentication information, as QEMU's id-block and id-auth take them",
		Long: `snp-create-id-block makes the SEV-SNP ID block (the launch digest, FAMILY_ID,
IMAGE_ID, GUEST_SVN and POLICY, signed with the ID key) and the ID
authentication information (the signature, the ID key, and the author key's
signature of the ID key), as sev-snp-measure's snp-create-id-block does. The
firmware then launches the guest only with that launch digest and policy,
and its attestation reports carry ID_KEY_DIGEST and AUTHOR_KEY_DIGEST, which
compare --id-key and --author-key check. Keys are ECDSA P-384. Signatures
are randomized, so the ID authentication information differs from run to run;
the ID block and the key digests do not.

--output text (the default) prints sev-snp-measure's three lines:
"id-block=B64,id-auth=B64", "id_key_hash: B64" (ID_KEY_DIGEST) and
"author_key: B64" (AUTHOR_KEY_DIGEST). --output qemu prints the options to
add to -object sev-snp-guest (with author-key-enabled=on when there is an
author key: without it the firmware ignores the author key and the report's
AUTHOR_KEY_DIGEST is zero). --output json prints them all, digests in hex.`,
		Example: `  LD=$(measure snp --ovmf OVMF.fd --vcpus 4 --vcpu-type EPYC-v4)
  measure snp-create-id-block --measurement "$LD" --id-key id.key --author-key author.key
  measure snp-create-id-block --measurement "$LD" --id-key id.key --author-key author.key --output qemu
  measure snp-create-id-block --measurement "$LD" --id-key id.key --id-block-file id-block.bin --id-auth-file id-auth.bin --output json
  measure keygen --out id --alg ecdsa-p384   # a P-384 key pair: id.key, id.pub (for compare --id-key)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.out.validate(); err != nil {
				return err
			}
			return o.run(cmd)
		},
	}
	o.AddFlags(cmd.Flags())
	cmd.Flags().SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if n, ok := idBlockFlagNames[name]; ok {
			name = n
		}
		return pflag.NormalizedName(name)
	})
	return cmd
}

// idBlockResult is what snp-create-id-block prints; its JSON form is
// --output json.
type idBlockResult struct {
	IDBlock         string `json:"id_block"`
	IDAuth          string `json:"id_auth"`
	IDKeyDigest     string `json:"id_key_digest"`
	AuthorKeyDigest string `json:"author_key_digest,omitempty"`
	QEMU            string `json:"qemu"`

	idKeyDigest, authorKeyDigest []byte
}

func (o *idBlockOptions) run(cmd *cobra.Command) error {
	blk, err := o.block()
	if err != nil {
		return err
	}
	if o.idKey == "" {
		return usagef("--id-key is required")
	}
	idKey, err := readIDBlockKey("id-key", o.idKey)
	if err != nil {
		return err
	}
	var authorKey *ecdsa.PrivateKey
	if o.authorKey != "" {
		if authorKey, err = readIDBlockKey("author-key", o.authorKey); err != nil {
			return err
		}
	}
	auth, err := idblock.New(rand.Reader, blk, idKey, authorKey)
	if err != nil {
		return err
	}
	// The library signed; check what it wrote as the firmware will.
	if err := auth.Verify(blk); err != nil {
		return fmt.Errorf("the ID authentication information just made does not verify: %w", err)
	}
	rawBlock, err := blk.MarshalBinary()
	if err != nil {
		return err
	}
	rawAuth, err := auth.MarshalBinary()
	if err != nil {
		return err
	}
	for _, f := range []struct {
		path string
		data []byte
	}{{o.blockFile, rawBlock}, {o.authFile, rawAuth}} {
		if f.path != "" {
			if err := atomicfile.WriteBytes(f.path, 0o644, f.data); err != nil {
				return err
			}
		}
	}
	idDigest := auth.IDKey.Digest()
	res := idBlockResult{
		IDBlock:     base64.StdEncoding.EncodeToString(rawBlock),
		IDAuth:      base64.StdEncoding.EncodeToString(rawAuth),
		IDKeyDigest: hex.EncodeToString(idDigest[:]),
		idKeyDigest: idDigest[:],
	}
	res.QEMU = "id-block=" + res.IDBlock + ",id-auth=" + res.IDAuth
	if authorKey != nil {
		d := auth.AuthorKey.Digest()
		res.AuthorKeyDigest, res.authorKeyDigest = hex.EncodeToString(d[:]), d[:]
		res.QEMU += ",author-key-enabled=on"
	}
	return o.print(cmd.OutOrStdout(), res)
}

func (o *idBlockOptions) print(w io.Writer, r idBlockResult) error {
	switch o.out.format {
	case "json":
		return writeJSON(w, r)
	case "qemu":
		_, err := fmt.Fprintln(w, r.QEMU)
		return err
	}
	// sev-snp-measure's lines, which its users parse.
	s := "id-block=" + r.IDBlock + ",id-auth=" + r.IDAuth + "\n" +
		"id_key_hash: " + base64.StdEncoding.EncodeToString(r.idKeyDigest) + "\n"
	if r.authorKeyDigest != nil {
		s += "author_key: " + base64.StdEncoding.EncodeToString(r.authorKeyDigest) + "\n"
	}
	_, err := io.WriteString(w, s)
	return err
}

// block is the ID block the flags describe.
func (o *idBlockOptions) block() (idblock.Block, error) {
	var blk idblock.Block
	if o.measurement == "" {
		return blk, usagef("--measurement is required")
	}
	ld, err := decodeLaunchDigest(o.measurement)
	if err != nil {
		return blk, usagef("--measurement %q: %v", o.measurement, err)
	}
	blk = idblock.NewBlock(ld)
	for _, f := range []struct {
		flag, value string
		dst         []byte
	}{{"family-id", o.familyID, blk.FamilyID[:]}, {"image-id", o.imageID, blk.ImageID[:]}} {
		if f.value == "" {
			continue
		}
		b, err := hex.DecodeString(strings.TrimPrefix(f.value, "0x"))
		if err != nil || len(b) > len(f.dst) {
			return blk, usagef("--%s %q: want up to %d bytes of hex", f.flag, f.value, len(f.dst))
		}
		copy(f.dst, b)
	}
	blk.GuestSVN = o.guestSVN
	if blk.Policy, err = strconv.ParseUint(o.policy, 0, 64); err != nil {
		return blk, usagef("--policy %q: want a number (0x30000)", o.policy)
	}
	return blk, nil
}

// decodeLaunchDigest reads 48 bytes written as hex (96 digits, "0x"
// allowed) or standard base64 (64 characters), as sev-snp-measure prints
// them.
func decodeLaunchDigest(s string) ([48]byte, error) {
	var ld [48]byte
	s = strings.TrimSpace(s)
	var b []byte
	var err error
	switch h := strings.TrimPrefix(s, "0x"); {
	case len(h) == 2*len(ld):
		b, err = hex.DecodeString(h)
	case len(s) == base64.StdEncoding.EncodedLen(len(ld)):
		b, err = base64.StdEncoding.DecodeString(s)
	default:
		return ld, fmt.Errorf("want 48 bytes as 96 hex digits or 64 base64 characters, got %d characters", len(s))
	}
	if err != nil || len(b) != len(ld) {
		return ld, fmt.Errorf("want 48 bytes as 96 hex digits or 64 base64 characters")
	}
	return [48]byte(b), nil
}

// readIDBlockKey reads a P-384 private key for --id-key or --author-key.
func readIDBlockKey(flag, path string) (*ecdsa.PrivateKey, error) {
	b, err := readFileLimit(path, maxKeySize)
	if err != nil {
		return nil, err
	}
	k, err := idblock.ParsePrivateKeyPEM(b)
	if err != nil {
		return nil, fmt.Errorf("--%s %q: %w", flag, path, err)
	}
	return k, nil
}
