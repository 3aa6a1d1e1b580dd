package provenance

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// StatementType is the in-toto Statement v1 type URI, the value of "_type".
const StatementType = intoto.StatementTypeUri

// Statement is an in-toto Statement v1, the type of the in-toto attestation
// Go library, named here so that callers need not import it.
type Statement = intoto.Statement

// PayloadType is the DSSE payload type of an in-toto statement.
const PayloadType = "application/vnd.in-toto+json"

// Subject is one artifact a statement is about: a name and a digest set
// (algorithm, as in-toto names it, to lower-case hex).
type Subject struct {
	Name   string
	Digest map[string]string
}

// Artifact is an in-toto resource descriptor: a build input, output or
// byproduct. At least one of Name, URI and Digest must be set. Annotations
// must marshal to a JSON object.
type Artifact struct {
	Name        string
	URI         string
	Digest      map[string]string
	Annotations map[string]any
}

// Digests reads r to its end and returns its sha256, sha384 and sha512
// digests as a digest set.
func Digests(r io.Reader) (map[string]string, error) {
	h256, h384, h512 := sha256.New(), sha512.New384(), sha512.New()
	if _, err := io.Copy(io.MultiWriter(h256, h384, h512), r); err != nil {
		return nil, err
	}
	return map[string]string{
		"sha256": hex.EncodeToString(h256.Sum(nil)),
		"sha384": hex.EncodeToString(h384.Sum(nil)),
		"sha512": hex.EncodeToString(h512.Sum(nil)),
	}, nil
}

func (s Subject) descriptor() *intoto.ResourceDescriptor {
	return &intoto.ResourceDescriptor{Name: s.Name, Digest: maps.Clone(s.Digest)}
}

func (a Artifact) descriptor() (*intoto.ResourceDescriptor, error) {
	rd := &intoto.ResourceDescriptor{Name: a.Name, Uri: a.URI, Digest: maps.Clone(a.Digest)}
	if a.Annotations != nil {
		s, err := toStruct(a.Annotations)
		if err != nil {
			return nil, fmt.Errorf("annotations of %q: %w", a.Name+a.URI, err)
		}
		rd.Annotations = s
	}
	if err := rd.Validate(); err != nil {
		return nil, fmt.Errorf("resource %q: %w", a.Name+a.URI, err)
	}
	return rd, nil
}

func subjects(ss []Subject) ([]*intoto.ResourceDescriptor, error) {
	if len(ss) == 0 {
		return nil, fmt.Errorf("statement: no subject, want at least one")
	}
	out := make([]*intoto.ResourceDescriptor, 0, len(ss))
	for i, s := range ss {
		if s.Name == "" {
			return nil, fmt.Errorf("subject %d: name is empty", i)
		}
		if len(s.Digest) == 0 {
			return nil, fmt.Errorf("subject %q: no digest, want at least one", s.Name)
		}
		rd := s.descriptor()
		if err := rd.Validate(); err != nil {
			return nil, fmt.Errorf("subject %q: %w", s.Name, err)
		}
		out = append(out, rd)
	}
	return out, nil
}

// toStruct converts v, anything encoding/json marshals to an object, into a
// protobuf Struct. Numbers become float64, as in any JSON decoder.
func toStruct(v any) (*structpb.Struct, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	s := &structpb.Struct{}
	if err := protojson.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("%s is not a JSON object: %w", shorten(b), err)
	}
	return s, nil
}

// fromStruct decodes a protobuf Struct into v, rejecting fields v does not
// have.
func fromStruct(s *structpb.Struct, v any) error {
	b, err := protojson.Marshal(s)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// Marshal returns the JSON form of st, byte for byte the same for the same
// statement: keys sorted, two-space indentation, a final newline. (protojson
// alone varies its whitespace from run to run on purpose.)
func Marshal(st *intoto.Statement) ([]byte, error) {
	if st == nil {
		return nil, fmt.Errorf("statement is nil")
	}
	b, err := protojson.Marshal(st)
	if err != nil {
		return nil, err
	}
	return canonicalJSON(b)
}

// canonicalJSON re-encodes a JSON document with sorted keys, fixed
// indentation and numbers kept as written.
func canonicalJSON(b []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// ParseStatement parses and validates an in-toto Statement v1: the type URI,
// at least one subject each with a well-formed digest, a predicate type and a
// predicate. Unknown fields are errors. It does not look inside the predicate;
// see ReferenceValuesFromStatement and SLSAFromStatement.
func ParseStatement(b []byte) (*intoto.Statement, error) {
	st := &intoto.Statement{}
	if err := protojson.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("in-toto statement: %w", err)
	}
	if st.GetType() != StatementType {
		return nil, fmt.Errorf("in-toto statement: _type %q, want %q", st.GetType(), StatementType)
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("in-toto statement: %w", err)
	}
	return st, nil
}

// ValidateStatement checks st as ParseStatement does, and its predicate
// against the schema of its predicate type, which must be PredicateType or
// SLSAPredicateType.
func ValidateStatement(st *intoto.Statement) error {
	if st.GetType() != StatementType {
		return fmt.Errorf("in-toto statement: _type %q, want %q", st.GetType(), StatementType)
	}
	if err := st.Validate(); err != nil {
		return fmt.Errorf("in-toto statement: %w", err)
	}
	switch st.GetPredicateType() {
	case PredicateType:
		_, err := ReferenceValuesFromStatement(st)
		return err
	case SLSAPredicateType:
		_, err := SLSAFromStatement(st)
		return err
	}
	return fmt.Errorf("in-toto statement: predicate type %q is unknown, want %q or %q", st.GetPredicateType(), PredicateType, SLSAPredicateType)
}

// MatchSubject returns the first subject of st whose digest set agrees with
// digests: they share at least one algorithm and every shared algorithm has
// the same value. Hex case is ignored. The error wraps ErrSubjectMismatch.
func MatchSubject(st *intoto.Statement, digests map[string]string) (Subject, error) {
	for _, rd := range st.GetSubject() {
		if digestsAgree(rd.GetDigest(), digests) {
			return Subject{Name: rd.GetName(), Digest: maps.Clone(rd.GetDigest())}, nil
		}
	}
	var names []string
	for _, rd := range st.GetSubject() {
		names = append(names, fmt.Sprintf("%q", rd.GetName()))
	}
	algs := slices.Sorted(maps.Keys(digests))
	want := ""
	if len(algs) > 0 {
		want = fmt.Sprintf(" (%s:%s)", algs[0], digests[algs[0]])
	}
	return Subject{}, fmt.Errorf("%w: digest%s equals none of the subjects %s", ErrSubjectMismatch, want, strings.Join(names, ", "))
}

func digestsAgree(a, b map[string]string) bool {
	shared := 0
	for alg, v := range a {
		w, ok := b[alg]
		if !ok {
			continue
		}
		if !strings.EqualFold(v, w) {
			return false
		}
		shared++
	}
	return shared > 0
}

// shorten quotes b, cut to a length fit for an error message.
func shorten(b []byte) string {
	const max = 64
	if len(b) > max {
		return fmt.Sprintf("%q...", b[:max])
	}
	return fmt.Sprintf("%q", b)
}

// messageToStruct converts a protobuf message to a Struct through its
// protojson form, which is how in-toto predicates appear in a statement.
func messageToStruct(m proto.Message) (*structpb.Struct, error) {
	b, err := protojson.Marshal(m)
	if err != nil {
		return nil, err
	}
	s := &structpb.Struct{}
	if err := protojson.Unmarshal(b, s); err != nil {
		return nil, err
	}
	return s, nil
}

// structToMessage is the inverse of messageToStruct; unknown fields are
// errors.
func structToMessage(s *structpb.Struct, m proto.Message) error {
	b, err := protojson.Marshal(s)
	if err != nil {
		return err
	}
	return protojson.Unmarshal(b, m)
}
