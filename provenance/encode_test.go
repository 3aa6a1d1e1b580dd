package provenance

import (
	"strings"
	"testing"
)

// TestEncodeSLSA: parameters and annotations of any JSON-marshalling type
// (a struct, a []string) encode, the statement parses back with its subject,
// and the caller's values are left as they were.
func TestEncodeSLSA(t *testing.T) {
	type recipe struct {
		Name string `json:"name"`
	}
	deps := []Artifact{{Name: "src", Digest: map[string]string{"sha256": strings.Repeat("ab", 32)}, Annotations: map[string]any{"args": []string{"a", "b"}}}}
	b := Build{
		BuildType:            "https://example.org/build/v1",
		BuilderID:            "https://example.org/builder",
		BuilderVersion:       map[string]string{"measure": "v1"},
		ExternalParameters:   map[string]any{"recipe": recipe{Name: "r"}},
		InternalParameters:   map[string]any{"steps": []map[string]any{{"name": "build"}}},
		ResolvedDependencies: deps,
		Subjects:             []Subject{{Name: "OVMF.fd", Digest: map[string]string{"sha256": strings.Repeat("cd", 32)}}},
	}
	out, err := EncodeSLSA(b)
	if err != nil {
		t.Fatal(err)
	}
	st, err := ParseStatement(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := MatchSubject(st, map[string]string{"sha256": strings.Repeat("cd", 32)}); err != nil {
		t.Errorf("subject: %v", err)
	}
	for _, want := range []string{`"recipe":{"name":"r"}`, `"args":["a","b"]`, `"measure":"v1"`} {
		if !strings.Contains(strings.Join(strings.Fields(string(out)), ""), want) {
			t.Errorf("statement lacks %s:\n%s", want, out)
		}
	}
	if _, ok := deps[0].Annotations["args"].([]string); !ok {
		t.Errorf("EncodeSLSA changed the caller's annotations: %T", deps[0].Annotations["args"])
	}
	if _, err := EncodeSLSA(Build{ExternalParameters: map[string]any{"f": func() {}}}); err == nil {
		t.Errorf("EncodeSLSA accepted a parameter that does not marshal")
	}
}
