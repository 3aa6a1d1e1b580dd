//go:build !measure_front

package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/measure-cc/measure/export"
	"github.com/measure-cc/measure/provenance"
	"github.com/measure-cc/measure/verify"
)

// exportOptions are export's flags.
type exportOptions struct {
	format        string
	keys          []string
	threshold     int
	allowUnsigned bool
	where         []string
	// corim
	signKey    string
	signerName string
	// rvps
	rvpsNames []string
	// sev-guest-check
	minTCB      string
	guestPolicy string
	vmpl        int
	productLine string
}

func (o *exportOptions) AddFlags(fs *pflag.FlagSet) {
	var formats []string
	for _, f := range export.Formats {
		formats = append(formats, string(f))
	}
	fs.StringVar(&o.format, "format", "", "output format: "+strings.Join(formats, ", "))
	fs.StringArrayVar(&o.keys, "key", nil, "trusted public key of the statement's signer (PKIX PEM); repeat for several")
	fs.IntVar(&o.threshold, "threshold", 1, "how many distinct --key keys must have signed")
	fs.BoolVar(&o.allowUnsigned, "allow-unsigned", false, "export without checking a signature: an unsigned statement, or an envelope when no --key is given")
	fs.StringArrayVar(&o.where, "where", nil, "keep only the configurations with this field value, FIELD=VALUE (vmmType, vcpus, vcpuType, vcpuSig, guestFeatures, profile, pageAddOrder, qemuVersion, memory); repeatable")
	fs.StringVar(&o.signKey, "sign-key", "", "corim: private key (PKCS #8 PEM, from keygen) that signs the CoRIM")
	fs.StringVar(&o.signerName, "signer-name", "", "corim: the signer's name in the CoRIM (default: the key id)")
	fs.StringArrayVar(&o.rvpsNames, "rvps-name", nil, "rvps: REGISTER=NAME, the reference-value name for a register (MEASUREMENT, MRTD, RTMR0..RTMR3) instead of Trustee's default; repeatable")
	fs.StringVar(&o.minTCB, "min-tcb", "", "sev-guest-check: lowest acceptable TCB, bl=N,tee=N,snp=N,ucode=N (Milan/Genoa layout) or a TCB_VERSION number")
	fs.StringVar(&o.guestPolicy, "guest-policy", "", "sev-guest-check: most permissive guest POLICY accepted, a 64-bit number (default 0x20000, the check tool's)")
	fs.IntVar(&o.vmpl, "vmpl", -1, "sev-guest-check: the VMPL the report must come from (0 to 3)")
	fs.StringVar(&o.productLine, "product-line", "", "sev-guest-check: the AMD product line the report comes from, "+strings.Join(export.ProductLines, ", "))
	addOutputFileFlag(fs)
}

// formatFlags lists, by format, the flags only that format takes.
var formatFlags = map[export.Format][]string{
	export.CoRIM:             {"sign-key", "signer-name"},
	export.RVPS:              {"rvps-name"},
	export.SEVGuestCheck:     {"min-tcb", "guest-policy", "vmpl", "product-line"},
	export.SEVGuestCheckJSON: {"min-tcb", "guest-policy", "vmpl", "product-line"},
}

func newExportCmd() *cobra.Command {
	o := &exportOptions{}
	cmd := &cobra.Command{
		Use:   "export --format FORMAT (--key PUB... | --allow-unsigned) STATEMENT",
		Short: "Write signed reference values in the forms other verifiers read",
		Long: `export reads a reference-values statement ("-" for standard input): a DSSE
envelope from measure sign, verified with --key as measure verify does (exit
10 to 14 when it is rejected), or, with --allow-unsigned, an unsigned
statement from measure snp|tdx --output statement (or an envelope whose
signature is then not checked; a warning says so). Reference values nobody
checked are never exported silently: without --key and --allow-unsigned,
export refuses (exit 2).

It prints them in --format (docs/interop.md says how each consumer is
configured to use them):

  rvps                  the message Trustee's Reference Value Provider
                        Service registers with its sample extractor (rvps-tool
                        register --path FILE), under the names Trustee's
                        default policy looks up: snp_launch_measurement,
                        mr_td, rtmr_0..rtmr_3 (--rvps-name renames)
  corim                 a CoRIM (CBOR) with one CoMID of reference values per
                        configuration, signed as COSE_Sign1 with --sign-key
  sev-guest-check       go-sev-guest's check configuration, as protocol buffer
                        text (check -config FILE.textproto): the MEASUREMENT
                        and --guest-policy, --min-tcb, --vmpl, --product-line;
                        it holds one MEASUREMENT, so select one configuration
                        with --where when they differ
  sev-guest-check-json  the same in the protocol buffer JSON mapping
  jsonl                 one JSON object per line and register value: platform,
                        register, alg, digest, configuration (its index) and
                        its fields, firmware and its digests

--where keeps the configurations whose fields have the values given. measure
compare reads rvps, corim and jsonl back (--refs-format).`,
		Example: `  measure export --format rvps --key ci.pub refs.dsse.json > rvps-message.json
  measure export --format corim --key ci.pub --sign-key ci.key refs.dsse.json > refs.corim
  measure export --format sev-guest-check --key ci.pub --min-tcb bl=7,tee=0,snp=22,ucode=213 --guest-policy 0x30000 refs.dsse.json > check.textproto
  measure export --format jsonl --key ci.pub refs.dsse.json
  measure snp --ovmf OVMF.fd --vcpus 4 --vcpu-type EPYC-v4 --output statement | measure export --format jsonl --allow-unsigned -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, args[0])
		},
	}
	o.AddFlags(cmd.Flags())
	_ = cmd.RegisterFlagCompletionFunc("format", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		var names []string
		for _, f := range export.Formats {
			names = append(names, string(f))
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// check checks the flags' combination and returns the format.
func (o *exportOptions) check(cmd *cobra.Command) (export.Format, error) {
	if o.format == "" {
		return "", usagef("--format is required, one of %v", export.Formats)
	}
	f, err := export.ParseFormat(o.format)
	if err != nil {
		return "", usagef("--format: %v", err)
	}
	for _, other := range export.Formats {
		for _, name := range formatFlags[other] {
			if cmd.Flags().Changed(name) && !slices.Contains(formatFlags[f], name) {
				return "", usagef("--%s applies to --format %s, not %s", name, other, f)
			}
		}
	}
	if len(o.keys) == 0 && !o.allowUnsigned {
		return "", usagef("--key is required to verify the statement's signature; --allow-unsigned exports values nobody checked")
	}
	if len(o.keys) > 0 && (o.threshold < 1 || o.threshold > len(o.keys)) {
		return "", usagef("--threshold %d, want 1 to %d (the number of --key)", o.threshold, len(o.keys))
	}
	if f == export.CoRIM && o.signKey == "" {
		return "", usagef("--format corim needs --sign-key: a CoRIM is signed (COSE_Sign1)")
	}
	return f, nil
}

func (o *exportOptions) run(cmd *cobra.Command, input string) error {
	f, err := o.check(cmd)
	if err != nil {
		return err
	}
	where, err := keyValues("--where", o.where)
	if err != nil {
		return err
	}
	rename, err := keyValues("--rvps-name", o.rvpsNames)
	if err != nil {
		return err
	}
	eo := export.Options{RVPSNames: rename, SignerName: o.signerName}
	if eo.Check, err = o.checkPolicy(cmd); err != nil {
		return err
	}
	keys, err := loadVerifiers(o.keys)
	if err != nil {
		return err
	}
	if o.signKey != "" {
		if eo.Signer, err = loadSigner(o.signKey, cmd.ErrOrStderr()); err != nil {
			return err
		}
	}
	b, err := readInput(cmd, input, maxStatementSize)
	if err != nil {
		return err
	}
	src, err := export.Load(cmd.Context(), b, export.LoadOptions{Keys: keys, Threshold: o.threshold, AllowUnsigned: o.allowUnsigned})
	if err != nil {
		return fmt.Errorf("statement %q: %w", input, err)
	}
	if len(src.KeyIDs) == 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "measure: warning: exporting the reference values of %s without checking any signature (--allow-unsigned)\n", input)
	}
	if len(where) > 0 {
		if src.Values, err = export.Select(src.Values, where); err != nil {
			return fmt.Errorf("statement %q: --where: %w", input, err)
		}
	}
	out, err := export.Export(src, f, eo)
	if err != nil {
		hint := ""
		if errors.Is(err, export.ErrUnsupported) && len(src.Values.Values) > 1 {
			hint = " (--where FIELD=VALUE selects configurations)"
		}
		return fmt.Errorf("statement %q: %w%s", input, err, hint)
	}
	_, err = cmd.OutOrStdout().Write(out)
	return err
}

// checkPolicy reads the sev-guest-check flags.
func (o *exportOptions) checkPolicy(cmd *cobra.Command) (export.CheckPolicy, error) {
	p := export.CheckPolicy{ProductLine: o.productLine}
	if o.productLine != "" && !slices.Contains(export.ProductLines, o.productLine) {
		return p, usagef("--product-line %q, want one of %v", o.productLine, export.ProductLines)
	}
	if o.minTCB != "" {
		v, err := export.ParseTCBVersion(o.minTCB)
		if err != nil {
			return p, usagef("--min-tcb: %v", err)
		}
		p.MinimumTCB = v
	}
	if o.guestPolicy != "" {
		var v uint64
		if _, err := fmt.Sscan(o.guestPolicy, &v); err != nil {
			return p, usagef("--guest-policy %q: want a 64-bit number, e.g. 0x30000", o.guestPolicy)
		}
		p.GuestPolicy = v
	}
	if cmd.Flags().Changed("vmpl") {
		if o.vmpl < 0 || o.vmpl > 3 {
			return p, usagef("--vmpl %d, want 0 to 3", o.vmpl)
		}
		v := uint32(o.vmpl)
		p.VMPL = &v
	}
	return p, nil
}

// keyValues parses repeated KEY=VALUE flags.
func keyValues(flag string, kvs []string) (map[string]string, error) {
	m := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || v == "" {
			return nil, usagef("%s %q: want KEY=VALUE", flag, kv)
		}
		if _, dup := m[k]; dup {
			return nil, usagef("%s: %s is given twice", flag, k)
		}
		m[k] = v
	}
	return m, nil
}

// loadVerifiers reads PKIX PEM public keys.
func loadVerifiers(paths []string) ([]*provenance.Verifier, error) {
	var keys []*provenance.Verifier
	for _, path := range paths {
		b, err := readFileLimit(path, maxKeySize)
		if err != nil {
			return nil, err
		}
		v, err := provenance.ParseVerifier(b)
		if err != nil {
			return nil, fmt.Errorf("public key %q: %w", path, err)
		}
		keys = append(keys, v)
	}
	return keys, nil
}

// refsFormatDSSE is compare's default --refs-format: a DSSE envelope.
const refsFormatDSSE = "dsse"

// refsFormats are the values of compare's --refs-format.
func refsFormats() []string {
	out := []string{refsFormatDSSE}
	for _, f := range export.ReadFormats {
		out = append(out, string(f))
	}
	return out
}

// addRefsFormatFlags gives compare --refs-format and --allow-unsigned-refs.
func (o *refsOptions) addRefsFormatFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.format, "refs-format", refsFormatDSSE, "form of --refs: "+strings.Join(refsFormats(), ", ")+" (as measure export writes them)")
	fs.BoolVar(&o.allowUnsigned, "allow-unsigned-refs", false, "accept --refs that carry no checked signature (rvps, jsonl, an unsigned CoRIM)")
}

// loadExported reads reference values in a form measure export writes
// (rvps, corim, jsonl): a CoRIM verified with --key, or, with
// --allow-unsigned-refs, one that carries no checked signature.
func (o *refsOptions) loadExported(cmd *cobra.Command) (*provenance.ReferenceValues, verify.References, error) {
	var refs verify.References
	if !slices.Contains(refsFormats(), o.format) {
		return nil, refs, usagef("--refs-format %q, want one of %v", o.format, refsFormats())
	}
	f := export.Format(o.format)
	if o.path == "" {
		return nil, refs, usagef("--refs is required")
	}
	if f != export.CoRIM && len(o.keys) > 0 {
		return nil, refs, usagef("--refs-format %s carries no signature for --key to check; give --allow-unsigned-refs instead", f)
	}
	if len(o.keys) == 0 && !o.allowUnsigned {
		if f == export.CoRIM {
			return nil, refs, usagef("--key is required: reference values are trusted only when signed (or give --allow-unsigned-refs)")
		}
		return nil, refs, usagef("--refs-format %s carries no signature: give --allow-unsigned-refs to compare with values nobody signed", f)
	}
	if o.threshold < 1 || (len(o.keys) > 0 && o.threshold > len(o.keys)) {
		return nil, refs, usagef("--threshold %d, want 1 to %d (the number of --key)", o.threshold, len(o.keys))
	}
	keys, err := loadVerifiers(o.keys)
	if err != nil {
		return nil, refs, err
	}
	b, err := readInput(cmd, o.path, maxStatementSize)
	if err != nil {
		return nil, refs, err
	}
	imp, err := export.Read(b, f, export.ReadOptions{Keys: keys, Threshold: o.threshold, AllowUnsigned: o.allowUnsigned})
	if err != nil {
		return nil, refs, fmt.Errorf("reference values %q: %w", o.path, err)
	}
	rv := imp.Values
	name := o.path
	if len(imp.KeyIDs) == 0 {
		name += " (" + string(f) + ", signature not checked)"
		fmt.Fprintf(cmd.ErrOrStderr(), "measure: warning: comparing with reference values %s that carry no checked signature (--allow-unsigned-refs)\n", o.path)
	}
	if rv.Firmware.Name == "" {
		rv.Firmware.Name = "(no firmware named in the " + string(f) + " reference values)"
	}
	refs = verify.References{NamedDigest: verify.NewNamedDigest(name, b), Firmware: rv.Firmware, KeyIDs: imp.KeyIDs, Configurations: len(rv.Values)}
	return rv, refs, nil
}
