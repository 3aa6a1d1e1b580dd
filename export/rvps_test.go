package export_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/measure-cc/measure/export"
	"github.com/measure-cc/measure/provenance"
)

// trusteeRead decodes an RVPS message as Trustee (commit 78962cd4) does,
// written from its source, not from our writer: rvps/src/lib.rs
// deserializes struct Message {version (default "0.1.0"), payload, type}
// with serde_json, ignoring other fields, and refuses a version other than
// MESSAGE_VERSION "0.1.0"; extractors/mod.rs picks the extractor by type;
// extractors/sample/mod.rs decodes the payload with base64's STANDARD
// engine and deserializes it into HashMap<String, serde_json::Value>,
// storing each value under its name.
func trusteeRead(t *testing.T, msg []byte) map[string]any {
	t.Helper()
	var m struct {
		Version *string `json:"version"`
		Payload string  `json:"payload"`
		Type    string  `json:"type"`
	}
	if err := json.Unmarshal(msg, &m); err != nil {
		t.Fatalf("message: %v", err)
	}
	if m.Version != nil && *m.Version != "0.1.0" {
		t.Fatalf("Version unmatched! Need 0.1.0, given %s.", *m.Version)
	}
	if m.Type != "sample" {
		t.Fatalf("Could not find extractor for %s", m.Type)
	}
	p, err := base64.StdEncoding.DecodeString(m.Payload)
	if err != nil {
		t.Fatalf("base64 decode: %v", err)
	}
	var rvs map[string]any
	if err := json.Unmarshal(p, &rvs); err != nil {
		t.Fatalf("deseralize sample provenance: %v", err)
	}
	return rvs
}

// policyIn is Rego's `claim in query_reference_value(name)` over an
// array, as Trustee's default policy uses it.
func policyIn(rvs map[string]any, name, claim string) bool {
	list, ok := rvs[name].([]any)
	return ok && slices.Contains(list, any(claim))
}

// claim is how Trustee's verifiers present a register: hex::encode of its
// bytes (deps/verifier/src/snp/mod.rs parse_tee_evidence "measurement";
// deps/verifier/src/tdx/claims.rs "mr_td", "rtmr_0".."rtmr_3"), which is
// lower-case.
func claim(t *testing.T, register string) string {
	t.Helper()
	b, err := hex.DecodeString(register)
	if err != nil || len(b) != 48 {
		t.Fatalf("register %q is not 48 bytes of hex", register)
	}
	return hex.EncodeToString(b)
}

func TestRVPSAsTrusteeReadsIt(t *testing.T) {
	k := newKey(t, provenance.Ed25519)
	tests := []struct {
		rv       provenance.ReferenceValues
		rename   map[string]string
		names    []string
		accepted map[string][]string // name -> claims the policy must accept
	}{
		{snpValues(), nil, []string{"snp_launch_measurement"},
			map[string][]string{"snp_launch_measurement": {snpM1, snpM4}}},
		{tdxValues(), nil, []string{"mr_td", "rtmr_0", "rtmr_1", "rtmr_2", "rtmr_3"},
			map[string][]string{"mr_td": {tdxMRTD}, "rtmr_0": {tdxRTMR0a, tdxRTMR0b}, "rtmr_1": {tdxRTMR1}, "rtmr_2": {tdxRTMR2}, "rtmr_3": {tdxRTMR3}}},
		// The policy's Azure SEV-SNP vTPM rules look the measurement up
		// as "measurement".
		{snpValues(), map[string]string{"MEASUREMENT": "measurement"}, []string{"measurement"},
			map[string][]string{"measurement": {snpM1, snpM4}}},
	}
	for _, tc := range tests {
		t.Run(tc.rv.Platform+"/"+strings.Join(tc.names, ","), func(t *testing.T) {
			b, err := export.Export(source(t, tc.rv, k), export.RVPS, export.Options{RVPSNames: tc.rename})
			if err != nil {
				t.Fatal(err)
			}
			var top map[string]json.RawMessage
			if err := json.Unmarshal(b, &top); err != nil {
				t.Fatal(err)
			}
			// The shape Trustee's integration tests register
			// (integration-tests/src/common.rs set_reference_value).
			if got := slices.Sorted(maps.Keys(top)); !slices.Equal(got, []string{"payload", "type", "version"}) {
				t.Errorf("message keys %v, want payload, type, version", got)
			}
			rvs := trusteeRead(t, b)
			if got := slices.Sorted(maps.Keys(rvs)); !slices.Equal(got, tc.names) {
				t.Errorf("names %v, want %v", got, tc.names)
			}
			for name, claims := range tc.accepted {
				for _, c := range claims {
					if !policyIn(rvs, name, claim(t, c)) {
						t.Errorf("%s in query_reference_value(%q) is false; values %v", c, name, rvs[name])
					}
				}
				if list, _ := rvs[name].([]any); len(list) != len(claims) {
					t.Errorf("%q holds %d values, want %d (each once): %v", name, len(list), len(claims), list)
				}
				if policyIn(rvs, name, strings.Repeat("ee", 48)) {
					t.Errorf("%q accepts a value no configuration has", name)
				}
			}
		})
	}
}

// TestReadRVPSTrusteeMessage reads a message built as Trustee's
// integration tests build theirs (json!({key: value}), base64 STANDARD,
// json!({"version", "type", "payload"})), here by hand.
func TestReadRVPSTrusteeMessage(t *testing.T) {
	payload := base64.StdEncoding.EncodeToString([]byte(`{"mr_td":["` + tdxMRTD + `"],"rtmr_1":["` + tdxRTMR1 + `","` + tdxRTMR2 + `"]}`))
	msg := []byte(`{"version":"0.1.0","type":"sample","payload":"` + payload + `","extra":1}`)
	rv, err := export.ReadRVPS(msg)
	if err != nil {
		t.Fatal(err)
	}
	want := &provenance.ReferenceValues{Platform: "tdx", Values: []provenance.ReferenceValue{
		{Measurements: []provenance.Measurement{{Register: "MRTD", Digest: sha384(tdxMRTD)}, {Register: "RTMR1", Digest: sha384(tdxRTMR1)}}},
		{Measurements: []provenance.Measurement{{Register: "MRTD", Digest: sha384(tdxMRTD)}, {Register: "RTMR1", Digest: sha384(tdxRTMR2)}}},
	}}
	if diff := cmp.Diff(want, rv); diff != "" {
		t.Errorf("ReadRVPS (-want +got):\n%s", diff)
	}
}

func TestReadRVPSErrors(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	msg := func(payload string) string {
		return `{"version":"0.1.0","type":"sample","payload":"` + payload + `"}`
	}
	m := `["` + snpM1 + `"]`
	tests := []struct {
		name, in, wantErr string
	}{
		{"not JSON", "{", "rvps message"},
		{"trailing data", msg(b64(`{"snp_launch_measurement":`+m+`}`)) + "{}", "data after the JSON value"},
		{"version", `{"version":"0.2.0","type":"sample","payload":""}`, `version "0.2.0", want "0.1.0"`},
		{"no type", `{"payload":""}`, "type is missing"},
		{"other extractor", `{"type":"swid","payload":""}`, `type "swid", want "sample"`},
		{"no payload", `{"type":"sample"}`, "payload is missing"},
		{"bad base64", msg("!!"), "payload: illegal base64"},
		{"unpadded base64", msg(strings.TrimRight(b64(`{}`), "=")), "payload: illegal base64"},
		{"payload not an object", msg(b64(`[]`)), "rvps payload"},
		{"empty payload", msg(b64(`{}`)), "no reference value"},
		{"unknown name", msg(b64(`{"snp_bootloader":["3"]}`)), `name "snp_bootloader" is none measure reads`},
		{"two platforms", msg(b64(`{"mr_td":["` + tdxMRTD + `"],"snp_launch_measurement":` + m + `}`)), "is a sev-snp value, the others are tdx"},
		{"string, not list", msg(b64(`{"snp_launch_measurement":"` + snpM1 + `"}`)), "not a non-empty list of strings"},
		{"empty list", msg(b64(`{"snp_launch_measurement":[]}`)), "not a non-empty list of strings"},
		{"upper-case hex", msg(b64(`{"snp_launch_measurement":["` + strings.ToUpper(snpM1) + `"]}`)), "lower-case hex"},
		{"short", msg(b64(`{"snp_launch_measurement":["abcd"]}`)), "96 lower-case hex digits"},
		{"repeated", msg(b64(`{"snp_launch_measurement":["` + snpM1 + `","` + snpM1 + `"]}`)), "twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := export.ReadRVPS([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ReadRVPS = %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
}

// TestReadRVPSCombinations: the combinations are bounded.
func TestReadRVPSCombinations(t *testing.T) {
	list := func(n int, b byte) string {
		var s []string
		for i := range n {
			s = append(s, `"`+strings.Repeat(hex.EncodeToString([]byte{b, byte(i)}), 24)+`"`)
		}
		return "[" + strings.Join(s, ",") + "]"
	}
	payload := `{"mr_td":` + list(64, 1) + `,"rtmr_0":` + list(64, 2) + `,"rtmr_1":` + list(2, 3) + `}`
	msg := []byte(`{"type":"sample","payload":"` + base64.StdEncoding.EncodeToString([]byte(payload)) + `"}`)
	if _, err := export.ReadRVPS(msg); err == nil || !strings.Contains(err.Error(), "more than 4096 combinations") {
		t.Errorf("ReadRVPS of 64*64*2 combinations = %v, want the bound", err)
	}
	payload = `{"mr_td":` + list(64, 1) + `,"rtmr_0":` + list(64, 2) + `}`
	msg = []byte(`{"type":"sample","payload":"` + base64.StdEncoding.EncodeToString([]byte(payload)) + `"}`)
	rv, err := export.ReadRVPS(msg)
	if err != nil || len(rv.Values) != 4096 {
		t.Errorf("ReadRVPS of 64*64 combinations: %v", err)
	}
}

// TestReadRVPSBounds: a message is bounded in size and each list in
// length before any work proportional to their product, and the largest
// message of MaxConfigurations values, indented, is read.
func TestReadRVPSBounds(t *testing.T) {
	values := func(n int) []string {
		s := make([]string, n)
		for i := range s {
			s[i] = fmt.Sprintf("%096x", i+1)
		}
		return s
	}
	message := func(payload map[string][]string, indent string) []byte {
		p, err := json.MarshalIndent(payload, "", indent)
		if err != nil {
			t.Fatal(err)
		}
		return []byte(`{"version":"0.1.0","type":"sample","payload":"` + base64.StdEncoding.EncodeToString(p) + `"}`)
	}
	largest := message(map[string][]string{"mr_td": values(export.MaxConfigurations), "rtmr_0": values(1), "rtmr_1": values(1), "rtmr_2": values(1), "rtmr_3": values(1)}, "    ")
	rv, err := export.ReadRVPS(largest)
	if err != nil || len(rv.Values) != export.MaxConfigurations {
		t.Fatalf("ReadRVPS of %d bytes, %d values: %v", len(largest), export.MaxConfigurations, err)
	}
	padded := append(bytes.Clone(largest), bytes.Repeat([]byte(" "), export.MaxRVPSSize+1-len(largest))...)
	tests := []struct {
		name, wantErr string
		in            []byte
	}{
		// The reviewer's message: 120,000 values, 15.8 MB, which took
		// 36.8 s of CPU with a quadratic check for repeats.
		{"120000 values", "bytes, want at most", message(map[string][]string{"snp_launch_measurement": values(120000)}, "")},
		{"padded past the bound", "bytes, want at most", padded},
		{"list longer than the combinations", `"mr_td" lists 4097 values, want at most 4096`, message(map[string][]string{"mr_td": values(export.MaxConfigurations + 1)}, "")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := export.ReadRVPS(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ReadRVPS(%d bytes) = %v, want an error with %q", len(tc.in), err, tc.wantErr)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("ReadRVPS(%d bytes) took %v", len(tc.in), d)
			}
		})
	}
}

func TestWriteRVPSNames(t *testing.T) {
	rv := snpValues()
	for _, rename := range []map[string]string{{"MRTD": "x"}, {"MEASUREMENT": " "}} {
		if _, err := export.WriteRVPS(&rv, rename); err == nil {
			t.Errorf("WriteRVPS(sev-snp, %v) succeeded", rename)
		}
	}
	tdx := tdxValues()
	if _, err := export.WriteRVPS(&tdx, map[string]string{"RTMR0": "mr_td"}); err == nil || !strings.Contains(err.Error(), "given to both") {
		t.Errorf("WriteRVPS with a name given twice = %v", err)
	}
}
