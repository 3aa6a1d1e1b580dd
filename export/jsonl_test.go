package export_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/measure-cc/measure/export"
	"github.com/measure-cc/measure/provenance"
)

// TestJSONLAsDocumented reads the lines as a script would, with a generic
// JSON decoder, by the keys docs/interop.md documents.
func TestJSONLAsDocumented(t *testing.T) {
	src := source(t, tdxValues(), newKey(t, provenance.Ed25519))
	b, err := export.Export(src, export.JSONL, export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 10 {
		t.Fatalf("%d lines, want 2 configurations x 5 registers", len(lines))
	}
	var got []string
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		for _, k := range []string{"platform", "register", "alg", "digest", "configuration", "firmware", "firmware_sha256", "firmware_sha384"} {
			if _, ok := m[k]; !ok {
				t.Errorf("line %d has no %q: %s", i+1, k, l)
			}
		}
		if m["platform"] != "tdx" || m["alg"] != "sha384" || m["firmware"] != "OVMF.fd" || m["firmware_sha256"] != strings.Repeat("5a", 32) {
			t.Errorf("line %d: %s", i+1, l)
		}
		got = append(got, fmt.Sprintf("%v %v %v %v %v %v", m["configuration"], m["memory"], m["page_add_order"], m["qemu_version"], m["register"], m["digest"]))
	}
	var want []string
	for i, c := range []struct{ mem, rtmr0 string }{{"2G", tdxRTMR0a}, {"4G", tdxRTMR0b}} {
		for _, r := range []struct{ reg, d string }{{"MRTD", tdxMRTD}, {"RTMR0", c.rtmr0}, {"RTMR1", tdxRTMR1}, {"RTMR2", tdxRTMR2}, {"RTMR3", tdxRTMR3}} {
			want = append(want, fmt.Sprintf("%d %s two-pass 9.2 %s %s", i, c.mem, r.reg, r.d))
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestReadJSONLErrors(t *testing.T) {
	line := func(mut func(m map[string]any)) string {
		m := map[string]any{"platform": "sev-snp", "register": "MEASUREMENT", "alg": "sha384", "digest": snpM1, "configuration": 0, "vcpus": 1,
			"firmware": "OVMF.fd", "firmware_sha256": strings.Repeat("5a", 32), "firmware_sha384": strings.Repeat("5b", 48)}
		if mut != nil {
			mut(m)
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	ok := line(nil)
	tests := []struct{ name, in, wantErr string }{
		{"empty", "\n\n", "no line"},
		{"not JSON", "{", "line 1"},
		{"unknown key", line(func(m map[string]any) { m["colour"] = "red" }), `unknown field "colour"`},
		{"two objects", ok + ok, "data after the JSON object"},
		{"platform", line(func(m map[string]any) { m["platform"] = "sgx" }), `platform "sgx"`},
		{"register", line(func(m map[string]any) { m["register"] = "MRTD" }), `register "MRTD"`},
		{"algorithm", line(func(m map[string]any) { m["alg"] = "md5" }), `"md5" is unknown`},
		{"digest", line(func(m map[string]any) { m["digest"] = "ABCD" }), "96 lower-case hex digits"},
		{"index", line(func(m map[string]any) { m["configuration"] = -1 }), "want an index from 0"},
		{"vcpus", line(func(m map[string]any) { m["vcpus"] = -2 }), "positive"},
		{"firmware digest", line(func(m map[string]any) { m["firmware_sha256"] = "00" }), "firmware: sha256"},
		{"value twice", ok + "\n" + ok, "MEASUREMENT sha384 is given twice"},
		{"configuration differs", ok + "\n" + line(func(m map[string]any) { m["vcpus"] = 2; m["alg"] = "sha512"; m["digest"] = strings.Repeat("00", 64) }), "other fields than on an earlier line"},
		{"two platforms", ok + "\n" + line(func(m map[string]any) {
			m["platform"], m["register"], m["configuration"], m["vcpus"] = "tdx", "MRTD", 1, 0
		}), `platform "tdx", an earlier line "sev-snp"`},
		{"two firmware images", ok + "\n" + line(func(m map[string]any) { m["firmware"], m["configuration"] = "other.fd", 1 }), `firmware "other.fd"`},
		{"long line", strings.Repeat(" ", 70<<10) + ok, "longer than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := export.ReadJSONL([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ReadJSONL = %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
	many := &bytes.Buffer{}
	for i := range export.MaxConfigurations + 1 {
		fmt.Fprintln(many, line(func(m map[string]any) { m["configuration"], m["vcpus"] = i, i+1 }))
	}
	if _, err := export.ReadJSONL(many.Bytes()); err == nil || !strings.Contains(err.Error(), "more than 4096 configurations") {
		t.Errorf("ReadJSONL of %d configurations = %v, want the bound", export.MaxConfigurations+1, err)
	}
}
