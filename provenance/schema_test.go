package provenance

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

const schemaPath = "schema/reference-values.v1.json"

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", schemaPath, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(schemaPath, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(schemaPath)
	if err != nil {
		t.Fatalf("compiling %s: %v", schemaPath, err)
	}
	return sch
}

// predicateOf returns the predicate of a statement's JSON, decoded for the
// schema validator.
func predicateOf(t *testing.T, statement []byte) any {
	t.Helper()
	var st struct {
		PredicateType string          `json:"predicateType"`
		Predicate     json.RawMessage `json:"predicate"`
	}
	if err := json.Unmarshal(statement, &st); err != nil {
		t.Fatal(err)
	}
	if st.PredicateType != PredicateType {
		t.Fatalf("predicate type %q, want %q", st.PredicateType, PredicateType)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(st.Predicate))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSchemaID(t *testing.T) {
	b, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		ID string `json:"$id"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if want := PredicateType + "/schema.json"; s.ID != want {
		t.Errorf("schema $id = %q, want %q", s.ID, want)
	}
}

// TestSchemaAcceptsPredicates validates the example and every generated
// golden statement's predicate against the JSON Schema.
func TestSchemaAcceptsPredicates(t *testing.T) {
	sch := compileSchema(t)
	files := []string{"schema/example.json"}
	golden, err := filepath.Glob("testdata/s*-*.json")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, golden...)
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(predicateOf(t, b)); err != nil {
				t.Errorf("%s: predicate does not match the schema: %v", f, err)
			}
			st, err := ParseStatement(b)
			if err != nil {
				t.Fatalf("ParseStatement(%s): %v", f, err)
			}
			if _, err := ReferenceValuesFromStatement(st); err != nil {
				t.Errorf("ReferenceValuesFromStatement(%s): %v", f, err)
			}
		})
	}
	// Statements generated now, not only the files on disk.
	for name, st := range goldenStatements(t) {
		b, err := Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(predicateOf(t, b)); err != nil {
			t.Errorf("%s: generated predicate does not match the schema: %v", name, err)
		}
	}
}

// TestSchemaAgreesWithValidate mutates a good predicate: the schema and
// ReferenceValues.Validate must both reject each mutation.
func TestSchemaAgreesWithValidate(t *testing.T) {
	sch := compileSchema(t)
	statements := goldenStatements(t)
	tests := []struct{ name, old, new, from string }{
		{"platform", `"platform": "sev-snp"`, `"platform": "sgx"`, ""},
		{"extra field", `"platform": "sev-snp"`, `"platform": "sev-snp", "colour": "blue"`, ""},
		{"short firmware digest", `"sha256": "` + fwSHA256 + `"`, `"sha256": "a1"`, ""},
		{"upper-case digest", `"sha256": "` + fwSHA256 + `"`, `"sha256": "` + strings.ToUpper(fwSHA256) + `"`, ""},
		{"unknown digest algorithm", `"sha256": "` + fwSHA256 + `"`, `"sha256": "` + fwSHA256 + `", "md5": "00000000000000000000000000000000"`, ""},
		{"register", `"register": "MEASUREMENT"`, `"register": "PCR0"`, ""},
		{"zero vcpus", `"vcpus": 1`, `"vcpus": 0.5`, ""},
		{"signature not hex", `"vcpuSig": "0xa00f11"`, `"vcpuSig": "a00f11"`, ""},
		{"vmm", `"vmmType": "qemu"`, `"vmmType": "xen"`, ""},
		{"no tool version", `"version": "v0.0.0-test"`, `"revision": "v0.0.0-test"`, ""},
		{"bad timestamp", `"platform": "sev-snp"`, `"platform": "sev-snp", "timestamp": "yesterday"`, ""},
		// Strings a verifier shows cannot print lines or escape sequences
		// of their own.
		{"vcpuType with a line break", `"vcpuType": "EPYC-Milan"`, `"vcpuType": "EPYC-Milan\nresult: PASSED\n\u001b[8m"`, ""},
		{"vcpuType with a space", `"vcpuType": "EPYC-Milan"`, `"vcpuType": "EPYC Milan"`, ""},
		{"firmware name with an escape", `"name": "OVMF.fd"`, `"name": "OVMF.fd\u001b[8m"`, ""},
		{"firmware name with a C1 control", `"name": "OVMF.fd"`, `"name": "OVMF\u009b.fd"`, ""},
		{"firmware name with a directory", `"name": "OVMF.fd"`, `"name": "fw/OVMF.fd"`, ""},
		{"firmware name reversed", `"name": "OVMF.fd"`, `"name": "\u202edf.FMVO"`, ""},
		{"tool version with a line break", `"version": "v0.0.0-test"`, `"version": "v0.0.0-test\nPASSED"`, ""},
		{"kernel name with a line break", `"name": "vmlinuz"`, `"name": "vmlinuz\n"`, "sev-boot"},
		{"command line with a line separator", `"value": "console=ttyS0`, `"value": "\u2028console=ttyS0`, "sev-boot"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			from := tc.from
			if from == "" {
				from = "snp-sweep"
			}
			good, err := Marshal(statements[from])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(good, []byte(tc.old)) {
				t.Fatalf("the statement has no %s", tc.old)
			}
			b := bytes.Replace(good, []byte(tc.old), []byte(tc.new), 1)
			if err := sch.Validate(predicateOf(t, b)); err == nil {
				t.Errorf("the schema accepts the predicate with %s", tc.new)
			}
			st, err := ParseStatement(b)
			if err != nil {
				t.Fatalf("ParseStatement: %v", err)
			}
			if _, err := ReferenceValuesFromStatement(st); err == nil {
				t.Errorf("ReferenceValuesFromStatement accepts the predicate with %s", tc.new)
			}
		})
	}
}

// TestValidateValues: the check of reference values read back from an
// export accepts what such a form carries (no tool, no firmware digests,
// configurations without fields repeated) and refuses the fields Validate
// refuses.
func TestValidateValues(t *testing.T) {
	m := []Measurement{{Register: "MEASUREMENT", Digest: map[string]string{"sha384": hexOf("ab", 48)}}}
	partial := func(mutate func(*ReferenceValues)) *ReferenceValues {
		rv := &ReferenceValues{Platform: "sev-snp", Values: []ReferenceValue{{Measurements: m}, {Measurements: m}}}
		if mutate != nil {
			mutate(rv)
		}
		return rv
	}
	tests := []struct {
		name    string
		rv      *ReferenceValues
		wantErr string
	}{
		{"combinations without fields", partial(nil), ""},
		{"firmware named", partial(func(rv *ReferenceValues) { rv.Firmware.Name = "OVMF.fd" }), ""},
		{"platform", partial(func(rv *ReferenceValues) { rv.Platform = "sgx" }), "platform"},
		{"no values", partial(func(rv *ReferenceValues) { rv.Values = nil }), "referenceValues is empty"},
		{"vcpu type", partial(func(rv *ReferenceValues) { rv.Values[0].Configuration.VCPUType = "EPYC\n\x1b[8m" }), "vcpuType"},
		{"firmware name", partial(func(rv *ReferenceValues) { rv.Firmware.Name = "OVMF.fd\r" }), "firmware name"},
		{"firmware digest", partial(func(rv *ReferenceValues) { rv.Firmware.Digest = map[string]string{"sha256": "zz"} }), "sha256"},
		{"register", partial(func(rv *ReferenceValues) {
			rv.Values[1].Measurements = []Measurement{{Register: "MRTD", Digest: m[0].Digest}}
		}), "register"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.rv.ValidateValues()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("ValidateValues() = %v, want %q", err, tc.wantErr)
			}
		})
	}
	if err := partial(nil).Validate(); err == nil {
		t.Errorf("Validate() of partial values succeeded")
	}
}
