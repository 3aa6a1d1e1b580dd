//go:build !js

// Not in the browser verifier's build (web/wasm, GOOS=js): in-toto-golang
// does not compile for js/wasm (its util_unix.go calls unix.Access).

package provenance

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/in-toto/in-toto-golang/in_toto"
)

// In-toto layouts and links, the metadata of the in-toto specification v0.9
// (https://github.com/in-toto/docs/blob/v0.9/in-toto-spec.md) that
// in-toto-golang's in_toto package and in-toto's Python implementation
// verify. A link is a functionary's signed record of one step of a supply
// chain: the artifacts it read (materials) and wrote (products), by
// sha256. A layout, signed by the project owner, names the steps, the keys
// that may sign each, how artifacts flow between them, and the inspections
// the verifier runs itself.
//
// Keys are converted, never generated, here: an in-toto key is the public
// key of a Signer or Verifier with the key type, scheme and key id that
// in-toto-golang's LoadKeyReaderDefaults gives the same PEM, so that a
// verifier that loads our .pub files with in-toto-golang finds the key ids
// our signatures carry. In-toto key ids are not the DSSE key ids of KeyID:
// they hash the key's canonical JSON (keytype, scheme, keyid_hash_algorithms,
// keyval), not its DER.

// ErrInTotoMetadata: a file is not in-toto link or layout metadata: not
// JSON, neither a Metablock ({"signed", "signatures"}) nor a DSSE envelope
// of payload type application/vnd.in-toto+json, or a link or layout that
// in-toto-golang's validation rejects.
var ErrInTotoMetadata = errors.New("not in-toto link or layout metadata")

// ErrInTotoVerification: in-toto's verification of a layout and its links
// failed (a signature, threshold, expiry, artifact rule or inspection).
var ErrInTotoVerification = errors.New("in-toto verification failed")

// MaxInTotoMetadataSize bounds a link or layout file LoadInTotoMetadata
// reads.
const MaxInTotoMetadataSize = 16 << 20

// inTotoPublicKey returns the in-toto form of pub: in-toto-golang's
// LoadKeyReaderDefaults of its PKIX PEM (keytype ed25519 or ecdsa, scheme
// ed25519 or ecdsa-sha2-nistp256 whatever the curve, keyid_hash_algorithms
// sha256 and sha512).
func inTotoPublicKey(pub crypto.PublicKey) (in_toto.Key, error) {
	if _, err := algorithmOf(pub); err != nil {
		return in_toto.Key{}, err
	}
	p, err := publicKeyPEM(pub)
	if err != nil {
		return in_toto.Key{}, err
	}
	var k in_toto.Key
	if err := k.LoadKeyReaderDefaults(bytes.NewReader(p)); err != nil {
		return in_toto.Key{}, fmt.Errorf("in-toto key: %w", err)
	}
	return k, nil
}

// inTotoKey returns the in-toto form of s's private key, which in-toto-golang
// signs with. Errors never quote the key.
func (s *Signer) inTotoKey() (in_toto.Key, error) {
	der, err := x509.MarshalPKCS8PrivateKey(s.key)
	if err != nil {
		return in_toto.Key{}, fmt.Errorf("%s private key cannot be encoded for in-toto", s.alg)
	}
	p := pem.EncodeToMemory(&pem.Block{Type: privateKeyPEMType, Bytes: der})
	var k in_toto.Key
	if err := k.LoadKeyReaderDefaults(bytes.NewReader(p)); err != nil {
		return in_toto.Key{}, fmt.Errorf("%s private key is not an in-toto key", s.alg)
	}
	return k, nil
}

// InTotoKeyID returns the in-toto key id of pub: the lower-case hex sha256
// of the canonical JSON of its in-toto key, as in-toto-golang computes it
// for the key's PEM. Link file names carry its first 8 digits.
func InTotoKeyID(pub crypto.PublicKey) (string, error) {
	k, err := inTotoPublicKey(pub)
	if err != nil {
		return "", err
	}
	return k.KeyID, nil
}

// Link is the evidence of one step: what it read and wrote.
type Link struct {
	// Name is the step's name in the layout.
	Name string
	// Command is the command line of the step, as the layout expects it.
	Command []string
	// Materials and Products map artifact names (relative slash-separated
	// paths, as the verifier finds the files) to their sha256, lower-case
	// hex.
	Materials, Products map[string]string
}

// stepNameRE is what a step or inspection name may be: a link's file name
// starts with it, and an artifact rule's FROM names it.
var stepNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

var sha256HexRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// validArtifactName reports whether name is a relative, clean,
// slash-separated path inside the verifier's directory, without control
// characters: a name in-toto could record for a file there.
func validArtifactName(name string) bool {
	return name != "" && name != "." && path.Clean(name) == name && !path.IsAbs(name) &&
		!strings.HasPrefix(name, "../") && name != ".." &&
		!strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

func (l *Link) validate() error {
	if !stepNameRE.MatchString(l.Name) {
		return fmt.Errorf("link name %q: want lower-case letters, digits, '.', '_' and '-'", l.Name)
	}
	for _, set := range []struct {
		what string
		m    map[string]string
	}{{"material", l.Materials}, {"product", l.Products}} {
		for _, name := range slices.Sorted(maps.Keys(set.m)) {
			if !validArtifactName(name) {
				return fmt.Errorf("link %q: %s name %q: want a relative, clean, slash-separated path", l.Name, set.what, name)
			}
			if !sha256HexRE.MatchString(set.m[name]) {
				return fmt.Errorf("link %q: %s %q: sha256 %q, want 64 lower-case hex digits", l.Name, set.what, name, set.m[name])
			}
		}
	}
	return nil
}

// inToto returns l as in-toto-golang's Link: every map and list present
// (empty rather than null, as in-toto's Python implementation wants them).
func (l *Link) inToto() in_toto.Link {
	artifacts := func(m map[string]string) map[string]in_toto.HashObj {
		out := make(map[string]in_toto.HashObj, len(m))
		for name, h := range m {
			out[name] = in_toto.HashObj{"sha256": h}
		}
		return out
	}
	cmd := append([]string{}, l.Command...)
	return in_toto.Link{
		Type:        "link",
		Name:        l.Name,
		Materials:   artifacts(l.Materials),
		Products:    artifacts(l.Products),
		ByProducts:  map[string]any{},
		Command:     cmd,
		Environment: map[string]any{},
	}
}

// SignLink signs l with s into an in-toto Metablock (in-toto v0.9 link
// metadata: {"signed": link, "signatures": [{"keyid", "sig"}]}, the
// signature over the canonical JSON of the link) and returns the file name
// in-toto looks for it under, STEP.KEYID8.link, with the indented JSON.
func SignLink(l *Link, s *Signer) (name string, metadata []byte, err error) {
	if err := l.validate(); err != nil {
		return "", nil, err
	}
	key, err := s.inTotoKey()
	if err != nil {
		return "", nil, err
	}
	mb := in_toto.Metablock{Signed: l.inToto(), Signatures: []in_toto.Signature{}}
	if err := in_toto.ValidateMetablock(mb); err != nil {
		return "", nil, fmt.Errorf("link %q: %w", l.Name, err)
	}
	if err := mb.Sign(key); err != nil {
		return "", nil, fmt.Errorf("link %q: signing: %w", l.Name, err)
	}
	b, err := json.MarshalIndent(&mb, "", "  ")
	if err != nil {
		return "", nil, fmt.Errorf("link %q: %w", l.Name, err)
	}
	return fmt.Sprintf(in_toto.LinkNameFormat, l.Name, key.KeyID), append(b, '\n'), nil
}

// BuildLink returns the link of a build step from the SLSA provenance
// statement the build wrote: its materials are the resolved dependencies
// that carry a sha256 (sources, patches, the toolchain image, its Debian
// packages), its products the statement's subjects. A dependency named by a
// package URL (pkg:deb/...) is named packages/NAME, so that a rule can
// allow a toolchain's packages, which a recipe does not list, together.
func BuildLink(step string, command []string, slsaStatement []byte) (*Link, error) {
	st, err := ParseStatement(slsaStatement)
	if err != nil {
		return nil, err
	}
	p, err := SLSAFromStatement(st)
	if err != nil {
		return nil, err
	}
	l := &Link{Name: step, Command: command, Materials: map[string]string{}, Products: map[string]string{}}
	for i, d := range p.GetBuildDefinition().GetResolvedDependencies() {
		h := strings.ToLower(d.GetDigest()["sha256"])
		if h == "" {
			continue // pinned otherwise (a patch series inside a tarball, the Go version)
		}
		name := d.GetName()
		if name == "" {
			return nil, fmt.Errorf("resolved dependency %d (%q) has no name", i, d.GetUri())
		}
		if strings.HasPrefix(d.GetUri(), "pkg:") {
			name = "packages/" + name
		}
		if prior, dup := l.Materials[name]; dup && prior != h {
			return nil, fmt.Errorf("resolved dependency %q appears twice with different sha256", name)
		}
		l.Materials[name] = h
	}
	for _, s := range st.GetSubject() {
		h := strings.ToLower(s.GetDigest()["sha256"])
		if h == "" {
			return nil, fmt.Errorf("subject %q has no sha256", s.GetName())
		}
		l.Products[s.GetName()] = h
	}
	if err := l.validate(); err != nil {
		return nil, err
	}
	return l, nil
}

// InTotoMetadata is a link or layout file as LoadInTotoMetadata read it.
type InTotoMetadata struct {
	// Type is "link" or "layout".
	Type string
	// DSSE says the file is a DSSE envelope rather than a Metablock.
	DSSE bool
	// KeyIDs are the key ids of the signatures, in order.
	KeyIDs []string
	// Link is set for a link; Materials and Products hold the sha256
	// only.
	Link *Link
	// Steps and Inspections name a layout's steps and inspections, in
	// order; Expires is when it expires.
	Steps, Inspections []string
	Expires            time.Time

	md in_toto.Metadata
}

// LoadInTotoMetadata reads a link or layout file, a Metablock or a DSSE
// envelope, with in-toto-golang's LoadMetadata after checking its size, and
// validates it as in-toto-golang validates metadata. It does not verify
// signatures. Errors wrap ErrInTotoMetadata, or are the file's read
// errors.
func LoadInTotoMetadata(file string) (*InTotoMetadata, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	f.Close()
	switch {
	case err != nil:
		return nil, err
	case !st.Mode().IsRegular():
		// LoadMetadata reads the whole file: a device or FIFO could be
		// endless.
		return nil, fmt.Errorf("%w: %q is not a regular file", ErrInTotoMetadata, file)
	case st.Size() > MaxInTotoMetadataSize:
		return nil, fmt.Errorf("%q is larger than %d bytes", file, MaxInTotoMetadataSize)
	}
	md, err := in_toto.LoadMetadata(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrInTotoMetadata, file, err)
	}
	out := &InTotoMetadata{md: md}
	_, out.DSSE = md.(*in_toto.Envelope)
	for _, s := range md.Sigs() {
		out.KeyIDs = append(out.KeyIDs, s.KeyID)
	}
	// Validate the payload as in-toto-golang validates a Metablock's; a
	// DSSE envelope's signatures are base64 and checked on verification.
	if err := in_toto.ValidateMetablock(in_toto.Metablock{Signed: md.GetPayload()}); err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrInTotoMetadata, file, err)
	}
	switch p := md.GetPayload().(type) {
	case in_toto.Link:
		out.Type = "link"
		l := &Link{Name: p.Name, Command: p.Command, Materials: map[string]string{}, Products: map[string]string{}}
		for name, h := range p.Materials {
			l.Materials[name] = h["sha256"]
		}
		for name, h := range p.Products {
			l.Products[name] = h["sha256"]
		}
		out.Link = l
	case in_toto.Layout:
		out.Type = "layout"
		for _, s := range p.Steps {
			out.Steps = append(out.Steps, s.Name)
		}
		for _, i := range p.Inspect {
			out.Inspections = append(out.Inspections, i.Name)
		}
		// ValidateMetablock parsed it in this format.
		out.Expires, _ = time.Parse(in_toto.ISO8601DateSchema, p.Expires)
	default:
		return nil, fmt.Errorf("%w: %q: payload is neither a link nor a layout", ErrInTotoMetadata, file)
	}
	return out, nil
}
