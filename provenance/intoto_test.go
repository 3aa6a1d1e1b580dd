//go:build !js

package provenance

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/in-toto/in-toto-golang/in_toto"
	"github.com/secure-systems-lab/go-securesystemslib/cjson"
)

// TestInTotoKeyID computes the in-toto key id as the specification (and
// securesystemslib) define it, by hand: the sha256 of the canonical JSON of
// {keyid_hash_algorithms, keytype, keyval: {public}, scheme}, the public
// value being the hex key for ed25519 and the PEM (no final newline) for
// ecdsa. Canonical JSON escapes only '"' and '\'.
func TestInTotoKeyID(t *testing.T) {
	for _, alg := range KeyAlgorithms {
		t.Run(string(alg), func(t *testing.T) {
			k := newTestKey(t, alg)
			keytype, scheme, public := "ecdsa", "ecdsa-sha2-nistp256", strings.TrimSpace(string(k.pubPEM))
			if alg == Ed25519 {
				keytype, scheme, public = "ed25519", "ed25519", hex.EncodeToString(k.verifier.Public().(ed25519.PublicKey))
			}
			canonical := `{"keyid_hash_algorithms":["sha256","sha512"],"keytype":"` + keytype + `","keyval":{"public":"` + public + `"},"scheme":"` + scheme + `"}`
			h := sha256.Sum256([]byte(canonical))
			got, err := InTotoKeyID(k.verifier.Public())
			if err != nil {
				t.Fatal(err)
			}
			if want := hex.EncodeToString(h[:]); got != want {
				t.Errorf("InTotoKeyID = %s, want %s", got, want)
			}
			// The private key converts to the same key.
			sk, err := k.signer.inTotoKey()
			if err != nil {
				t.Fatal(err)
			}
			if sk.KeyID != got || sk.KeyVal.Private == "" {
				t.Errorf("private key: key id %s (private set: %v), want %s", sk.KeyID, sk.KeyVal.Private != "", got)
			}
		})
	}
}

// TestSignLinkFormat checks a signed link against the v0.9 format without
// in-toto-golang: {"signed": {...}, "signatures": [{"keyid", "sig"}]}, the
// signature over the canonical JSON of "signed", hex, by the key whose
// in-toto key id it names.
func TestSignLinkFormat(t *testing.T) {
	for _, alg := range KeyAlgorithms {
		t.Run(string(alg), func(t *testing.T) {
			k := newTestKey(t, alg)
			l := &Link{Name: "build-ovmf", Command: []string{"measure", "build", "ovmf"},
				Materials: map[string]string{"edk2.tar.xz": strings.Repeat("ab", 32), "packages/nasm": strings.Repeat("cd", 32)},
				Products:  map[string]string{"OVMF.fd": strings.Repeat("ef", 32)}}
			name, b, err := SignLink(l, k.signer)
			if err != nil {
				t.Fatal(err)
			}
			id, _ := InTotoKeyID(k.verifier.Public())
			if want := "build-ovmf." + id[:8] + ".link"; name != want {
				t.Errorf("file name %q, want %q", name, want)
			}
			var mb struct {
				Signed     map[string]any
				Signatures []struct{ KeyID, Sig string }
			}
			if err := json.Unmarshal(b, &mb); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{
				"_type": "link", "name": "build-ovmf", "command": []any{"measure", "build", "ovmf"},
				"materials": map[string]any{
					"edk2.tar.xz":   map[string]any{"sha256": strings.Repeat("ab", 32)},
					"packages/nasm": map[string]any{"sha256": strings.Repeat("cd", 32)},
				},
				"products":    map[string]any{"OVMF.fd": map[string]any{"sha256": strings.Repeat("ef", 32)}},
				"byproducts":  map[string]any{},
				"environment": map[string]any{},
			}
			if diff := cmp.Diff(want, mb.Signed); diff != "" {
				t.Errorf("signed (-want +got):\n%s", diff)
			}
			if len(mb.Signatures) != 1 || mb.Signatures[0].KeyID != id {
				t.Fatalf("signatures %+v, want one by %s", mb.Signatures, id)
			}
			canonical, err := cjson.EncodeCanonical(mb.Signed)
			if err != nil {
				t.Fatal(err)
			}
			sig, err := hex.DecodeString(mb.Signatures[0].Sig)
			if err != nil {
				t.Fatal(err)
			}
			var ok bool
			switch pub := k.verifier.Public().(type) {
			case ed25519.PublicKey:
				ok = ed25519.Verify(pub, canonical, sig)
			case *ecdsa.PublicKey:
				// in-toto-golang hashes by curve size, whatever the scheme
				// name says.
				h := sha256.Sum256(canonical)
				digest := h[:]
				if alg == ECDSAP384 {
					h := sha512.Sum384(canonical)
					digest = h[:]
				}
				ok = ecdsa.VerifyASN1(pub, digest, sig)
			}
			if !ok {
				t.Errorf("signature does not verify over the canonical JSON of signed")
			}
		})
	}
}

func TestSignLinkRefuses(t *testing.T) {
	k := newTestKey(t, Ed25519)
	h := strings.Repeat("ab", 32)
	tests := []struct {
		name    string
		link    Link
		wantErr string
	}{
		{"no name", Link{}, `link name ""`},
		{"slash in name", Link{Name: "a/b"}, `link name "a/b"`},
		{"absolute material", Link{Name: "s", Materials: map[string]string{"/etc/passwd": h}}, `material name "/etc/passwd"`},
		{"dot-dot product", Link{Name: "s", Products: map[string]string{"../x": h}}, `product name "../x"`},
		{"unclean", Link{Name: "s", Products: map[string]string{"a//b": h}}, `product name "a//b"`},
		{"newline", Link{Name: "s", Products: map[string]string{"a\nb": h}}, `product name "a\nb"`},
		{"short digest", Link{Name: "s", Products: map[string]string{"x": "abcd"}}, `sha256 "abcd"`},
		{"upper-case digest", Link{Name: "s", Products: map[string]string{"x": strings.ToUpper(h)}}, "64 lower-case hex"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := SignLink(&tc.link, k.signer); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("SignLink = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestBuildLink(t *testing.T) {
	b := Build{
		BuildType: "https://example.org/build/v1", BuilderID: "https://example.org/builder",
		ExternalParameters: map[string]any{"recipe": "r"},
		ResolvedDependencies: []Artifact{
			{Name: "edk2.tar.xz", URI: "http://example.org/edk2.tar.xz", Digest: map[string]string{"sha256": strings.Repeat("AB", 32)}},
			{Name: "debian/patches/series", Annotations: map[string]any{"note": "inside the tarball"}},
			{Name: "patches/fix.patch", Digest: map[string]string{"sha256": strings.Repeat("01", 32)}},
			{Name: "toolchain", URI: "oci://toolchain", Digest: map[string]string{"sha256": strings.Repeat("02", 32)}},
			{Name: "nasm", URI: "pkg:deb/debian/nasm@2.16.03-1?arch=amd64", Digest: map[string]string{"sha256": strings.Repeat("03", 32)}},
			{Name: "go", URI: "https://go.dev/dl/#go1.26.8"},
		},
		Subjects: []Subject{{Name: "OVMF.fd", Digest: map[string]string{"sha256": strings.Repeat("04", 32), "sha384": strings.Repeat("05", 48)}}},
	}
	st, err := EncodeSLSA(b)
	if err != nil {
		t.Fatal(err)
	}
	l, err := BuildLink("build-ovmf", []string{"measure", "build", "ovmf"}, st)
	if err != nil {
		t.Fatal(err)
	}
	want := &Link{Name: "build-ovmf", Command: []string{"measure", "build", "ovmf"},
		Materials: map[string]string{
			"edk2.tar.xz": strings.Repeat("ab", 32), "patches/fix.patch": strings.Repeat("01", 32),
			"toolchain": strings.Repeat("02", 32), "packages/nasm": strings.Repeat("03", 32),
		},
		Products: map[string]string{"OVMF.fd": strings.Repeat("04", 32)}}
	if diff := cmp.Diff(want, l); diff != "" {
		t.Errorf("BuildLink (-want +got):\n%s", diff)
	}
	// A reference-values statement is not SLSA provenance.
	if _, err := BuildLink("x", nil, statementBytes(t)); err == nil || !strings.Contains(err.Error(), "predicate type") {
		t.Errorf("BuildLink of a reference-values statement = %v, want a predicate type error", err)
	}
}

// chain is a two-step supply chain on disk, in a directory that is the
// verifier's working directory: "fetch" produces src.txt, "build" turns it
// into out.bin; the inspection "check" runs true and matches out.bin.
type chain struct {
	dir              string
	owner, builder   testKey
	layout           *Layout
	envelope         LayoutEnvelope
	src, out         []byte
	fetchKey         testKey
	threshold        int
	extraFunctionary *Verifier
}

func newChain(t *testing.T, alg KeyAlgorithm, env LayoutEnvelope) *chain {
	c := &chain{dir: t.TempDir(), owner: newTestKey(t, alg), builder: newTestKey(t, alg), envelope: env,
		src: []byte("source\r\n"), out: []byte("binary\x00\r\n"), threshold: 1}
	c.fetchKey = c.builder
	return c
}

func sha256Hex(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func (c *chain) layoutOf(expires time.Time) *Layout {
	fs := []*Verifier{c.builder.verifier}
	if c.extraFunctionary != nil {
		fs = append(fs, c.extraFunctionary)
	}
	match := [][]string{{"MATCH", "out.bin", "WITH", "PRODUCTS", "FROM", "build"}, {"ALLOW", "*.link"}, {"ALLOW", "*.layout"}, {"DISALLOW", "*"}}
	return &Layout{
		Steps: []LayoutStep{
			{Name: "fetch", ExpectedCommand: []string{"fetch"}, ExpectedMaterials: [][]string{{"DISALLOW", "*"}},
				ExpectedProducts: [][]string{{"CREATE", "src.txt"}, {"DISALLOW", "*"}}, Functionaries: fs, Threshold: c.threshold},
			{Name: "build", ExpectedCommand: []string{"build"},
				ExpectedMaterials: [][]string{{"MATCH", "src.txt", "WITH", "PRODUCTS", "FROM", "fetch"}, {"DISALLOW", "*"}},
				ExpectedProducts:  [][]string{{"CREATE", "out.bin"}, {"DISALLOW", "*"}}, Functionaries: fs, Threshold: c.threshold},
		},
		Inspections: []LayoutInspection{{Name: "check", Run: []string{"true"}, ExpectedMaterials: match, ExpectedProducts: match}},
		Expires:     expires,
		Readme:      "test chain",
	}
}

// write writes the artifacts, the links and the layout.
func (c *chain) write(t *testing.T, expires time.Time) string {
	t.Helper()
	for name, b := range map[string][]byte{"out.bin": c.out} {
		if err := os.WriteFile(filepath.Join(c.dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := []struct {
		l *Link
		k testKey
	}{
		{&Link{Name: "fetch", Command: []string{"fetch"}, Products: map[string]string{"src.txt": sha256Hex(c.src)}}, c.fetchKey},
		{&Link{Name: "build", Command: []string{"build"}, Materials: map[string]string{"src.txt": sha256Hex(c.src)}, Products: map[string]string{"out.bin": sha256Hex(c.out)}}, c.builder},
	}
	for _, l := range links {
		name, b, err := SignLink(l.l, l.k.signer)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(c.dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c.layout = c.layoutOf(expires)
	b, err := SignLayout(context.Background(), c.layout, c.envelope, c.owner.signer)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(c.dir, "root.layout")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// inTotoVerify verifies as in-toto-golang's users do: the layout read with
// LoadMetadata, the owner's key with LoadKeyReaderDefaults, InTotoVerify in
// the directory of the artifacts.
func inTotoVerify(t *testing.T, dir, layout string, ownerPEM []byte) error {
	t.Helper()
	t.Chdir(dir)
	md, err := in_toto.LoadMetadata(layout)
	if err != nil {
		return err
	}
	var k in_toto.Key
	if err := k.LoadKeyReaderDefaults(bytes.NewReader(ownerPEM)); err != nil {
		t.Fatal(err)
	}
	_, err = in_toto.InTotoVerify(md, map[string]in_toto.Key{k.KeyID: k}, dir, "", nil, nil, false)
	return err
}

// TestInTotoGoVerifies checks layouts and links made here with
// in-toto-golang's verifier, for each key algorithm and envelope, and the
// failures it must find.
func TestInTotoGoVerifies(t *testing.T) {
	future := time.Now().Add(time.Hour)
	for _, alg := range KeyAlgorithms {
		for _, env := range LayoutEnvelopes {
			t.Run(fmt.Sprintf("%s/%s", alg, env), func(t *testing.T) {
				c := newChain(t, alg, env)
				p := c.write(t, future)
				if err := inTotoVerify(t, c.dir, p, c.owner.pubPEM); err != nil {
					t.Fatalf("InTotoVerify: %v", err)
				}
				md, err := LoadInTotoMetadata(p)
				if err != nil {
					t.Fatal(err)
				}
				id, _ := InTotoKeyID(c.owner.verifier.Public())
				if md.Type != "layout" || md.DSSE != (env == DSSELayout) || !slices.Equal(md.KeyIDs, []string{id}) ||
					!slices.Equal(md.Steps, []string{"fetch", "build"}) || !slices.Equal(md.Inspections, []string{"check"}) ||
					!md.Expires.Equal(future.Truncate(time.Second)) {
					t.Errorf("LoadInTotoMetadata = %+v", md)
				}
				if err := VerifyInToto(p, [][]byte{c.owner.pubPEM}, c.dir); err != nil {
					t.Errorf("VerifyInToto: %v", err)
				}
			})
		}
	}
}

func TestInTotoGoRejects(t *testing.T) {
	future, past := time.Now().Add(time.Hour), time.Now().Add(-time.Hour)
	tests := []struct {
		name    string
		edit    func(t *testing.T, c *chain)
		expires time.Time
		after   func(t *testing.T, c *chain)
		wantErr string
	}{
		{name: "tampered product", expires: future, after: func(t *testing.T, c *chain) {
			b := append([]byte(nil), c.out...)
			b[0] ^= 1
			os.WriteFile(filepath.Join(c.dir, "out.bin"), b, 0o644)
		}, wantErr: "artifact verification failed for Inspection 'check'"},
		{name: "link signed by another key", expires: future, edit: func(t *testing.T, c *chain) {
			c.fetchKey = newTestKey(t, Ed25519)
		}, wantErr: "'0' out of '1' available link(s) have a valid signature"},
		{name: "expired layout", expires: past, wantErr: "layout has expired"},
		{name: "threshold not met", expires: future, edit: func(t *testing.T, c *chain) {
			c.threshold = 2
			c.extraFunctionary = newTestKey(t, Ed25519).verifier
		}, wantErr: "requires '2' link metadata file(s)"},
		{name: "link altered after signing", expires: future, after: func(t *testing.T, c *chain) {
			ms, _ := filepath.Glob(filepath.Join(c.dir, "build.*.link"))
			b, _ := os.ReadFile(ms[0])
			os.WriteFile(ms[0], bytes.Replace(b, []byte(`"build"`), []byte(`"built"`), 1), 0o644)
		}, wantErr: "requires '1' link metadata file(s)"},
		{name: "material not allowed", expires: future, after: func(t *testing.T, c *chain) {
			l := &Link{Name: "build", Command: []string{"build"}, Materials: map[string]string{"src.txt": sha256Hex(c.src), "extra.txt": sha256Hex(nil)}, Products: map[string]string{"out.bin": sha256Hex(c.out)}}
			name, b, _ := SignLink(l, c.builder.signer)
			os.WriteFile(filepath.Join(c.dir, name), b, 0o644)
		}, wantErr: "materials [extra.txt] disallowed"},
	}
	for _, tc := range tests {
		for _, env := range LayoutEnvelopes {
			t.Run(tc.name+"/"+string(env), func(t *testing.T) {
				c := newChain(t, ECDSAP256, env)
				if tc.edit != nil {
					tc.edit(t, c)
				}
				p := c.write(t, tc.expires)
				if tc.after != nil {
					tc.after(t, c)
				}
				err := inTotoVerify(t, c.dir, p, c.owner.pubPEM)
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("InTotoVerify = %v, want %q", err, tc.wantErr)
				}
				if err := VerifyInToto(p, [][]byte{c.owner.pubPEM}, c.dir); !errors.Is(err, ErrInTotoVerification) {
					t.Errorf("VerifyInToto = %v, want ErrInTotoVerification", err)
				}
			})
		}
	}
	// A layout verified with another owner's key.
	c := newChain(t, Ed25519, Metablock)
	p := c.write(t, future)
	if err := inTotoVerify(t, c.dir, p, newTestKey(t, Ed25519).pubPEM); err == nil || !strings.Contains(err.Error(), "no signature found for key") {
		t.Errorf("InTotoVerify with another owner key = %v, want no signature found", err)
	}
}

func TestSignLayoutRefuses(t *testing.T) {
	k := newTestKey(t, Ed25519)
	step := LayoutStep{Name: "s", Functionaries: []*Verifier{k.verifier}, Threshold: 1}
	in := time.Now().Add(time.Hour)
	tests := []struct {
		name    string
		layout  Layout
		owners  []*Signer
		env     LayoutEnvelope
		wantErr string
	}{
		{"no steps", Layout{Expires: in}, []*Signer{k.signer}, Metablock, "no steps"},
		{"no expiry", Layout{Steps: []LayoutStep{step}}, []*Signer{k.signer}, Metablock, "no expiry"},
		{"no owner", Layout{Steps: []LayoutStep{step}, Expires: in}, nil, Metablock, "no owner key"},
		{"owner twice", Layout{Steps: []LayoutStep{step}, Expires: in}, []*Signer{k.signer, k.signer}, DSSELayout, "given twice"},
		{"threshold", Layout{Steps: []LayoutStep{{Name: "s", Functionaries: []*Verifier{k.verifier}, Threshold: 2}}, Expires: in}, []*Signer{k.signer}, Metablock, "threshold 2 with 1"},
		{"same name", Layout{Steps: []LayoutStep{step}, Inspections: []LayoutInspection{{Name: "s", Run: []string{"true"}}}, Expires: in}, []*Signer{k.signer}, Metablock, `names "s" twice`},
		{"bad rule", Layout{Steps: []LayoutStep{{Name: "s", Functionaries: []*Verifier{k.verifier}, Threshold: 1, ExpectedMaterials: [][]string{{"MATCH", "x"}}}}, Expires: in}, []*Signer{k.signer}, Metablock, "invalid material rule"},
		{"empty inspection", Layout{Steps: []LayoutStep{step}, Inspections: []LayoutInspection{{Name: "i"}}, Expires: in}, []*Signer{k.signer}, Metablock, "runs nothing"},
		{"envelope", Layout{Steps: []LayoutStep{step}, Expires: in}, []*Signer{k.signer}, "jws", `envelope "jws" is unknown`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := SignLayout(context.Background(), &tc.layout, tc.env, tc.owners...); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("SignLayout = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestSignLayoutTwoOwners: every owner signs, in either envelope, and
// in-toto-golang wants each owner's signature.
func TestSignLayoutTwoOwners(t *testing.T) {
	for _, env := range LayoutEnvelopes {
		t.Run(string(env), func(t *testing.T) {
			c := newChain(t, Ed25519, env)
			p := c.write(t, time.Now().Add(time.Hour))
			second := newTestKey(t, ECDSAP384)
			b, err := SignLayout(context.Background(), c.layout, env, c.owner.signer, second.signer)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(p, b, 0o644)
			t.Chdir(c.dir)
			if err := VerifyInToto(p, [][]byte{c.owner.pubPEM, second.pubPEM}, c.dir); err != nil {
				t.Errorf("VerifyInToto with both owners: %v", err)
			}
			md, err := LoadInTotoMetadata(p)
			if err != nil || len(md.KeyIDs) != 2 {
				t.Errorf("LoadInTotoMetadata = %+v, %v; want two signatures", md, err)
			}
		})
	}
}

func TestLoadInTotoMetadataErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	big := filepath.Join(dir, "big.link")
	f, _ := os.Create(big)
	f.Truncate(MaxInTotoMetadataSize + 1)
	f.Close()
	payload := base64.StdEncoding.EncodeToString([]byte(`{"_type":"link"}`))
	tests := []struct {
		name, file string
		want       error
		wantErr    string
	}{
		{"missing", filepath.Join(dir, "none.link"), os.ErrNotExist, "no such file"},
		{"directory", dir, ErrInTotoMetadata, "not a regular file"},
		{"too large", big, nil, "larger than"},
		{"not JSON", write("a.link", []byte("not json")), ErrInTotoMetadata, ""},
		{"statement", write("st.link", statementBytes(t)), ErrInTotoMetadata, ""},
		{"no signatures", write("b.link", []byte(`{"signed":{"_type":"link"}}`)), ErrInTotoMetadata, "'signed' and 'signatures'"},
		{"link lacking fields", write("c.link", []byte(`{"signed":{"_type":"link","name":"x"},"signatures":[]}`)), ErrInTotoMetadata, "required field"},
		{"bad digest", write("d.link", []byte(`{"signed":{"_type":"link","name":"x","materials":{"a":{"sha256":"zz"}},"products":{},"byproducts":{},"command":[],"environment":{}},"signatures":[]}`)), ErrInTotoMetadata, "invalid hex"},
		{"dsse of another type", write("e.link", []byte(`{"payloadType":"text/plain","payload":"`+payload+`","signatures":[]}`)), ErrInTotoMetadata, "payload type"},
		{"layout without expiry", write("f.layout", []byte(`{"signed":{"_type":"layout","steps":[],"inspect":[],"keys":{},"expires":"","readme":""},"signatures":[]}`)), ErrInTotoMetadata, "expiry"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadInTotoMetadata(tc.file)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("LoadInTotoMetadata = %v, want %v and %q", err, tc.want, tc.wantErr)
			}
		})
	}
}

// rvStatement is a reference-values statement for a firmware whose
// SEV-SNP measurement is m, computed by tool version v.
func rvStatement(t *testing.T, m, v string) []byte {
	t.Helper()
	rv := ReferenceValues{
		Platform: "sev-snp",
		Firmware: Firmware{Name: "OVMF.fd", Digest: map[string]string{"sha256": strings.Repeat("ab", 32), "sha384": strings.Repeat("cd", 48)}},
		Values: []ReferenceValue{{
			Configuration: Configuration{VMMType: "qemu", VCPUs: 1, VCPUType: "EPYC-v4", VCPUSig: "0x800f12", GuestFeatures: "0x1"},
			Measurements:  []Measurement{{Register: "MEASUREMENT", Digest: map[string]string{"sha384": m}}},
		}},
		Tool: Tool{Name: "measure", Version: v},
	}
	st, err := NewReferenceValuesStatement([]Subject{{Name: "OVMF.fd", Digest: rv.Firmware.Digest}}, rv)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCompareReferenceValues(t *testing.T) {
	a := strings.Repeat("11", 48)
	signed := rvStatement(t, a, "1.0")
	if err := CompareReferenceValues(signed, rvStatement(t, a, "2.0")); err != nil {
		t.Errorf("another tool version: %v, want agreement", err)
	}
	err := CompareReferenceValues(signed, rvStatement(t, strings.Repeat("22", 48), "1.0"))
	if !errors.Is(err, ErrReferenceValuesDiffer) || !strings.Contains(err.Error(), "value 1:") || !strings.Contains(err.Error(), a) {
		t.Errorf("another measurement: %v, want ErrReferenceValuesDiffer naming value 1", err)
	}
	if err := CompareReferenceValues([]byte("{}"), signed); err == nil || errors.Is(err, ErrReferenceValuesDiffer) || !strings.Contains(err.Error(), "signed statement") {
		t.Errorf("a signed statement that does not parse: %v", err)
	}
}
