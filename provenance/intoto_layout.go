//go:build !js

// Not in the browser verifier's build (web/wasm, GOOS=js): in-toto-golang
// does not compile for js/wasm (its util_unix.go calls unix.Access).

package provenance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/in-toto/in-toto-golang/in_toto"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/secure-systems-lab/go-securesystemslib/signerverifier"
)

// LayoutEnvelope says how a layout is signed.
type LayoutEnvelope string

// The layout envelopes. A Metablock is in-toto v0.9's own signature
// wrapper ({"signed", "signatures"}, signatures over the canonical JSON),
// which every in-toto verifier reads. A DSSE envelope (payload type
// application/vnd.in-toto+json, the layout's canonical JSON as payload) is
// what in-toto-golang and in-toto 2.x also read, and what Trustee's RVPS
// in-toto extractor requires of a layout.
const (
	Metablock  LayoutEnvelope = "metablock"
	DSSELayout LayoutEnvelope = "dsse"
)

// layoutTypeID is a layout's _type.
const layoutTypeID = "layout"

// LayoutEnvelopes lists the envelopes, the default first.
var LayoutEnvelopes = []LayoutEnvelope{Metablock, DSSELayout}

// Layout is an in-toto supply chain: its steps, in order, and the
// inspections the verifier runs after checking the links.
type Layout struct {
	Steps       []LayoutStep
	Inspections []LayoutInspection
	// Expires is when the layout stops being valid; it is written in UTC,
	// to the second.
	Expires time.Time
	// Readme says what the layout is about.
	Readme string
}

// LayoutStep is a step of the supply chain: who may perform it, what it is
// expected to run, read and write.
type LayoutStep struct {
	Name string
	// ExpectedCommand is the command a link should report; in-toto only
	// warns when they differ.
	ExpectedCommand []string
	// ExpectedMaterials and ExpectedProducts are artifact rules in in-toto's
	// syntax, e.g. {"MATCH", "OVMF.fd", "WITH", "PRODUCTS", "FROM",
	// "build-ovmf"}, {"DISALLOW", "*"}.
	ExpectedMaterials, ExpectedProducts [][]string
	// Functionaries are the keys that may sign the step's link; Threshold
	// of them must, with the same materials and products.
	Functionaries []*Verifier
	Threshold     int
}

// LayoutInspection is a command the verifier runs in its working directory
// after checking the links, and the rules its materials (the files there
// before it runs) and products (after) must satisfy.
type LayoutInspection struct {
	Name                                string
	Run                                 []string
	ExpectedMaterials, ExpectedProducts [][]string
}

// inToto returns l as in-toto-golang's Layout, every list and map present.
func (l *Layout) inToto() (in_toto.Layout, error) {
	if len(l.Steps) == 0 {
		return in_toto.Layout{}, errors.New("layout has no steps")
	}
	if l.Expires.IsZero() {
		return in_toto.Layout{}, errors.New("layout has no expiry")
	}
	out := in_toto.Layout{
		Type:    layoutTypeID,
		Steps:   []in_toto.Step{},
		Inspect: []in_toto.Inspection{},
		Keys:    map[string]in_toto.Key{},
		Expires: l.Expires.UTC().Format(in_toto.ISO8601DateSchema),
		Readme:  l.Readme,
	}
	seen := map[string]bool{}
	name := func(n string) error {
		if !stepNameRE.MatchString(n) {
			return fmt.Errorf("layout step or inspection name %q: want lower-case letters, digits, '.', '_' and '-'", n)
		}
		if seen[n] {
			return fmt.Errorf("layout names %q twice", n)
		}
		seen[n] = true
		return nil
	}
	rules := func(r [][]string) [][]string {
		out := [][]string{}
		for _, rule := range r {
			out = append(out, append([]string{}, rule...))
		}
		return out
	}
	for _, s := range l.Steps {
		if err := name(s.Name); err != nil {
			return in_toto.Layout{}, err
		}
		if s.Threshold < 1 || s.Threshold > len(s.Functionaries) {
			return in_toto.Layout{}, fmt.Errorf("step %q: threshold %d with %d functionaries, want 1 to %d", s.Name, s.Threshold, len(s.Functionaries), len(s.Functionaries))
		}
		step := in_toto.Step{
			Type:            "step",
			PubKeys:         []string{},
			ExpectedCommand: append([]string{}, s.ExpectedCommand...),
			Threshold:       s.Threshold,
			SupplyChainItem: in_toto.SupplyChainItem{Name: s.Name, ExpectedMaterials: rules(s.ExpectedMaterials), ExpectedProducts: rules(s.ExpectedProducts)},
		}
		for _, f := range s.Functionaries {
			k, err := inTotoPublicKey(f.Public())
			if err != nil {
				return in_toto.Layout{}, fmt.Errorf("step %q: %w", s.Name, err)
			}
			if slices.Contains(step.PubKeys, k.KeyID) {
				return in_toto.Layout{}, fmt.Errorf("step %q: functionary key %s is given twice", s.Name, k.KeyID)
			}
			step.PubKeys = append(step.PubKeys, k.KeyID)
			out.Keys[k.KeyID] = k
		}
		out.Steps = append(out.Steps, step)
	}
	for _, i := range l.Inspections {
		if err := name(i.Name); err != nil {
			return in_toto.Layout{}, err
		}
		if len(i.Run) == 0 {
			return in_toto.Layout{}, fmt.Errorf("inspection %q runs nothing", i.Name)
		}
		out.Inspect = append(out.Inspect, in_toto.Inspection{
			Type:            "inspection",
			Run:             append([]string{}, i.Run...),
			SupplyChainItem: in_toto.SupplyChainItem{Name: i.Name, ExpectedMaterials: rules(i.ExpectedMaterials), ExpectedProducts: rules(i.ExpectedProducts)},
		})
	}
	// in-toto-golang's own checks: rule syntax, keys, expiry format.
	if err := in_toto.ValidateMetablock(in_toto.Metablock{Signed: out}); err != nil {
		return in_toto.Layout{}, fmt.Errorf("layout: %w", err)
	}
	return out, nil
}

// SignLayout signs l with every owner into env (Metablock or DSSELayout)
// and returns the indented JSON, which in-toto verifies with the owners'
// public keys.
func SignLayout(ctx context.Context, l *Layout, env LayoutEnvelope, owners ...*Signer) ([]byte, error) {
	layout, err := l.inToto()
	if err != nil {
		return nil, err
	}
	if len(owners) == 0 {
		return nil, errors.New("layout: no owner key given")
	}
	var keys []in_toto.Key
	for _, o := range owners {
		k, err := o.inTotoKey()
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(keys, func(c in_toto.Key) bool { return c.KeyID == k.KeyID }) {
			return nil, fmt.Errorf("layout: owner key %s is given twice", k.KeyID)
		}
		keys = append(keys, k)
	}
	var b []byte
	switch env {
	case Metablock:
		mb := in_toto.Metablock{Signed: layout, Signatures: []in_toto.Signature{}}
		for _, k := range keys {
			if err := mb.Sign(k); err != nil {
				return nil, fmt.Errorf("layout: signing: %w", err)
			}
		}
		b, err = json.MarshalIndent(&mb, "", "  ")
	case DSSELayout:
		b, err = signDSSELayout(ctx, layout, keys)
	default:
		return nil, fmt.Errorf("layout envelope %q is unknown, want one of %v", env, LayoutEnvelopes)
	}
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// signDSSELayout signs layout with every key into one DSSE envelope.
// in_toto.Envelope.Sign keeps one signature; go-securesystemslib's envelope
// signer makes one per key. The payload is ordinary JSON: DSSE signs bytes,
// and canonical JSON (which in_toto.Envelope's SetPayload writes) leaves the
// newlines of PEM keys raw, which no JSON parser, in-toto-golang's
// LoadMetadata included, accepts.
func signDSSELayout(ctx context.Context, layout in_toto.Layout, keys []in_toto.Key) ([]byte, error) {
	payload, err := json.Marshal(layout)
	if err != nil {
		return nil, fmt.Errorf("layout: %w", err)
	}
	svs := make([]dsse.Signer, len(keys))
	for i, k := range keys {
		if svs[i], err = dsseSignerOf(k); err != nil {
			return nil, err
		}
	}
	es, err := dsse.NewEnvelopeSigner(svs...)
	if err != nil {
		return nil, fmt.Errorf("layout: %w", err)
	}
	e, err := es.SignPayload(ctx, in_toto.PayloadType, payload)
	if err != nil {
		return nil, fmt.Errorf("layout: signing: %w", err)
	}
	return json.MarshalIndent(e, "", "  ")
}

// dsseSignerOf returns go-securesystemslib's signer of an in-toto key, the
// one in-toto-golang signs DSSE envelopes with.
func dsseSignerOf(k in_toto.Key) (dsse.Signer, error) {
	sk := &signerverifier.SSLibKey{
		KeyType: k.KeyType, Scheme: k.Scheme, KeyIDHashAlgorithms: k.KeyIDHashAlgorithms, KeyID: k.KeyID,
		KeyVal: signerverifier.KeyVal{Public: k.KeyVal.Public, Private: k.KeyVal.Private},
	}
	switch k.KeyType {
	case signerverifier.ED25519KeyType:
		return signerverifier.NewED25519SignerVerifierFromSSLibKey(sk)
	case signerverifier.ECDSAKeyType:
		return signerverifier.NewECDSASignerVerifierFromSSLibKey(sk)
	}
	return nil, fmt.Errorf("in-toto key type %q cannot sign a DSSE layout", k.KeyType)
}

// VerifyInToto runs in-toto-golang's verification (InTotoVerify) of the
// layout in layoutFile, which every one of ownerKeys (PKIX PEM public keys,
// loaded as in-toto-golang's LoadKeyReaderDefaults loads them) must have
// signed, with the links in linkDir: signatures and thresholds, expiry,
// artifact rules, then the inspections, which run in the current working
// directory and record every file under it. in-toto-golang prints warnings
// (a link's command that differs from the expected one) on standard output.
// Errors wrap ErrInTotoVerification, or ErrInTotoMetadata for a file that
// is not a layout.
func VerifyInToto(layoutFile string, ownerKeys [][]byte, linkDir string) error {
	md, err := LoadInTotoMetadata(layoutFile)
	if err != nil {
		return err
	}
	if md.Type != layoutTypeID {
		return fmt.Errorf("%w: %q is a %s, want a layout", ErrInTotoMetadata, layoutFile, md.Type)
	}
	if len(ownerKeys) == 0 {
		return errors.New("in-toto verification needs the layout owner's public key")
	}
	keys := map[string]in_toto.Key{}
	for i, p := range ownerKeys {
		if _, err := ParseVerifier(p); err != nil {
			return fmt.Errorf("owner key %d: %w", i+1, err)
		}
		var k in_toto.Key
		if err := k.LoadKeyReaderDefaults(bytes.NewReader(p)); err != nil {
			return fmt.Errorf("owner key %d: %w", i+1, err)
		}
		keys[k.KeyID] = k
	}
	if _, err := in_toto.InTotoVerify(md.md, keys, linkDir, "", map[string]string{}, nil, false); err != nil {
		return fmt.Errorf("%w: %w", ErrInTotoVerification, err)
	}
	return nil
}

// ErrReferenceValuesDiffer: reference values computed again from the
// artifacts are not the ones a statement holds.
var ErrReferenceValuesDiffer = errors.New("recomputed reference values differ from the statement's")

// CompareReferenceValues checks that recomputed, a reference-values
// statement computed again from the same artifacts, says what signed says:
// the same subjects, platform, firmware, boot inputs and values, in the same
// order. The tool that computed them and the timestamp may differ, so that
// a verifier's measure need not be the builder's. The error wraps
// ErrReferenceValuesDiffer and names the first difference.
func CompareReferenceValues(signed, recomputed []byte) error {
	parse := func(what string, b []byte) ([]Subject, *ReferenceValues, error) {
		st, err := ParseStatement(b)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", what, err)
		}
		rv, err := ReferenceValuesFromStatement(st)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", what, err)
		}
		var ss []Subject
		for _, s := range st.GetSubject() {
			ss = append(ss, Subject{Name: s.GetName(), Digest: s.GetDigest()})
		}
		rv.Tool, rv.Timestamp = Tool{}, nil
		return ss, rv, nil
	}
	ws, want, err := parse("signed statement", signed)
	if err != nil {
		return err
	}
	gs, got, err := parse("recomputed statement", recomputed)
	if err != nil {
		return err
	}
	differ := func(what string, w, g any) error {
		wj, _ := json.Marshal(w)
		gj, _ := json.Marshal(g)
		return fmt.Errorf("%w: %s: signed %s, recomputed %s", ErrReferenceValuesDiffer, what, wj, gj)
	}
	if !reflect.DeepEqual(ws, gs) {
		return differ("subjects", ws, gs)
	}
	switch {
	case want.Platform != got.Platform:
		return differ("platform", want.Platform, got.Platform)
	case !reflect.DeepEqual(want.Firmware, got.Firmware):
		return differ("firmware", want.Firmware, got.Firmware)
	case !reflect.DeepEqual(want.Boot, got.Boot):
		return differ("boot", want.Boot, got.Boot)
	case len(want.Values) != len(got.Values):
		return differ("number of values", len(want.Values), len(got.Values))
	}
	for i := range want.Values {
		if !reflect.DeepEqual(want.Values[i], got.Values[i]) {
			return differ(fmt.Sprintf("value %d", i+1), want.Values[i], got.Values[i])
		}
	}
	if !reflect.DeepEqual(want, got) {
		return differ("reference values", want, got)
	}
	return nil
}
