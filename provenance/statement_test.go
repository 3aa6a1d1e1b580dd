package provenance

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	intoto "github.com/in-toto/attestation/go/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// hexOf repeats a two-digit pattern to n bytes of hex.
func hexOf(pair string, n int) string { return strings.Repeat(pair, n) }

var (
	fwSHA256 = hexOf("a1", 32)
	fwSHA384 = hexOf("b2", 48)
)

func firmwareSubject() Subject {
	return Subject{Name: "OVMF.fd", Digest: map[string]string{"sha256": fwSHA256, "sha384": fwSHA384}}
}

func testTool() Tool {
	return Tool{Name: "measure", Version: "v0.0.0-test", URI: "https://github.com/measure-cc/measure"}
}

// snpValues is a sweep over two vCPU types and two counts.
func snpValues() ReferenceValues {
	rv := ReferenceValues{
		Platform: "sev-snp",
		Firmware: Firmware{Name: "OVMF.fd", Digest: map[string]string{"sha256": fwSHA256, "sha384": fwSHA384}},
		Tool:     testTool(),
	}
	i := 0
	for _, cpu := range []struct{ name, sig string }{{"EPYC-Milan", "0xa00f11"}, {"EPYC-Genoa", "0xa10f11"}} {
		for _, n := range []int{1, 2} {
			rv.Values = append(rv.Values, ReferenceValue{
				Configuration: Configuration{VMMType: "qemu", VCPUs: n, VCPUType: cpu.name, VCPUSig: cpu.sig, GuestFeatures: "0x1"},
				Measurements:  []Measurement{{Register: "MEASUREMENT", Digest: map[string]string{"sha384": hexOf(string("0123456789"[i])+"f", 48)}}},
			})
			i++
		}
	}
	return rv
}

// bootValues is SEV with measured direct boot.
func bootValues() (ReferenceValues, []Subject) {
	rv := ReferenceValues{
		Platform: "sev",
		Firmware: Firmware{Name: "OVMF-AmdSev.fd", Digest: map[string]string{"sha256": fwSHA256, "sha384": fwSHA384}},
		Boot: &Boot{
			Kernel:  File{Name: "vmlinuz", Digest: map[string]string{"sha256": hexOf("c3", 32)}},
			Initrd:  File{Name: "initrd.img", Digest: map[string]string{"sha256": hexOf("d4", 32)}},
			Cmdline: Cmdline{Value: "console=ttyS0 root=/dev/vda <&>", Digest: map[string]string{"sha256": hexOf("e5", 32)}},
		},
		Values: []ReferenceValue{{Measurements: []Measurement{{Register: "LAUNCH_DIGEST", Digest: map[string]string{"sha256": hexOf("f6", 32)}}}}},
		Tool:   testTool(),
	}
	subs := []Subject{
		{Name: "OVMF-AmdSev.fd", Digest: map[string]string{"sha256": fwSHA256, "sha384": fwSHA384}},
		{Name: "vmlinuz", Digest: map[string]string{"sha256": hexOf("c3", 32)}},
		{Name: "initrd.img", Digest: map[string]string{"sha256": hexOf("d4", 32)}},
	}
	return rv, subs
}

// goldenStatements are the statements the golden and schema tests share.
func goldenStatements(t *testing.T) map[string]*intoto.Statement {
	t.Helper()
	ts := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	snpTS := snpValues()
	snpTS.Timestamp = &ts
	seeded := snpValues()
	seeded.Firmware.SNPOVMFHash = hexOf("9a", 48)
	boot, bootSubs := bootValues()
	cases := map[string]struct {
		subs []Subject
		rv   ReferenceValues
	}{
		"snp-sweep":     {[]Subject{firmwareSubject()}, snpValues()},
		"snp-timestamp": {[]Subject{firmwareSubject()}, snpTS},
		"snp-seed":      {[]Subject{firmwareSubject()}, seeded},
		"sev-boot":      {bootSubs, boot},
	}
	out := map[string]*intoto.Statement{}
	for name, tc := range cases {
		st, err := NewReferenceValuesStatement(tc.subs, tc.rv)
		if err != nil {
			t.Fatalf("%s: NewReferenceValuesStatement: %v", name, err)
		}
		out[name] = st
	}
	return out
}

// checkGolden compares got with testdata/name byte for byte, or rewrites it
// with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (-want +got):\n%s", path, cmp.Diff(string(want), string(got)))
	}
}

func TestReferenceValuesGolden(t *testing.T) {
	for name, st := range goldenStatements(t) {
		t.Run(name, func(t *testing.T) {
			got, err := Marshal(st)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			checkGolden(t, name+".json", got)

			// Deterministic: marshalling again, and parsing and
			// marshalling the result, give the same bytes.
			for i := 0; i < 5; i++ {
				again, err := Marshal(st)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(again, got) {
					t.Fatalf("Marshal run %d differs:\n%s", i, cmp.Diff(string(got), string(again)))
				}
			}
			parsed, err := ParseStatement(got)
			if err != nil {
				t.Fatalf("ParseStatement(Marshal(st)): %v", err)
			}
			round, err := Marshal(parsed)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(round, got) {
				t.Errorf("Marshal(ParseStatement(b)) != b:\n%s", cmp.Diff(string(got), string(round)))
			}
			if err := ValidateStatement(parsed); err != nil {
				t.Errorf("ValidateStatement: %v", err)
			}
		})
	}
}

func TestReferenceValuesRoundTrip(t *testing.T) {
	boot, subs := bootValues()
	ts := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	boot.Timestamp = &ts
	st, err := NewReferenceValuesStatement(subs, boot)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReferenceValuesFromStatement(st)
	if err != nil {
		t.Fatalf("ReferenceValuesFromStatement: %v", err)
	}
	if diff := cmp.Diff(&boot, got); diff != "" {
		t.Errorf("ReferenceValuesFromStatement(NewReferenceValuesStatement(rv)) (-want +got):\n%s", diff)
	}
}

func TestNewReferenceValuesStatementErrors(t *testing.T) {
	tests := []struct {
		name    string
		subs    []Subject
		edit    func(rv *ReferenceValues)
		wantErr string
	}{
		{name: "unknown platform", edit: func(rv *ReferenceValues) { rv.Platform = "sgx" }, wantErr: `platform "sgx"`},
		{name: "no firmware name", edit: func(rv *ReferenceValues) { rv.Firmware.Name = "" }, wantErr: "firmware name is empty"},
		{name: "no sha384", edit: func(rv *ReferenceValues) { delete(rv.Firmware.Digest, "sha384") }, wantErr: "digest has no sha384"},
		{name: "short digest", edit: func(rv *ReferenceValues) { rv.Firmware.Digest["sha256"] = "abcd" }, wantErr: `sha256 "abcd", want 64 lower-case hex digits`},
		{name: "upper-case hex", edit: func(rv *ReferenceValues) { rv.Firmware.Digest["sha256"] = strings.ToUpper(fwSHA256) }, wantErr: "want 64 lower-case hex digits"},
		{name: "unknown algorithm", edit: func(rv *ReferenceValues) { rv.Firmware.Digest["md5"] = hexOf("00", 16) }, wantErr: `algorithm "md5" is unknown`},
		{name: "no values", edit: func(rv *ReferenceValues) { rv.Values = nil }, wantErr: "referenceValues is empty"},
		{name: "repeated configuration", edit: func(rv *ReferenceValues) { rv.Values[1].Configuration = rv.Values[0].Configuration }, wantErr: "repeats referenceValues[0]"},
		{name: "register of another platform", edit: func(rv *ReferenceValues) { rv.Values[0].Measurements[0].Register = "MRTD" }, wantErr: `register "MRTD", want one of [MEASUREMENT]`},
		{name: "register twice", edit: func(rv *ReferenceValues) {
			rv.Values[0].Measurements = append(rv.Values[0].Measurements, rv.Values[0].Measurements[0])
		}, wantErr: `register "MEASUREMENT" appears twice`},
		{name: "no measurements", edit: func(rv *ReferenceValues) { rv.Values[0].Measurements = nil }, wantErr: "measurements is empty"},
		{name: "unknown vmm", edit: func(rv *ReferenceValues) { rv.Values[0].Configuration.VMMType = "xen" }, wantErr: `vmmType "xen"`},
		{name: "negative vcpus", edit: func(rv *ReferenceValues) { rv.Values[0].Configuration.VCPUs = -1 }, wantErr: "vcpus -1"},
		{name: "decimal signature", edit: func(rv *ReferenceValues) { rv.Values[0].Configuration.VCPUSig = "10489617" }, wantErr: `vcpuSig "10489617"`},
		{name: "seed on sev", edit: func(rv *ReferenceValues) {
			rv.Platform = "sev"
			rv.Firmware.SNPOVMFHash = hexOf("9a", 48)
		}, wantErr: "snpOvmfHash is set for platform"},
		{name: "short seed", edit: func(rv *ReferenceValues) { rv.Firmware.SNPOVMFHash = "9a" }, wantErr: `snpOvmfHash "9a"`},
		{name: "no tool version", edit: func(rv *ReferenceValues) { rv.Tool.Version = "" }, wantErr: "tool name"},
		{name: "no subject", subs: []Subject{}, wantErr: "no subject"},
		{name: "subject without digest", subs: []Subject{{Name: "OVMF.fd"}}, wantErr: `subject "OVMF.fd": no digest`},
		{name: "subject bad digest", subs: []Subject{{Name: "OVMF.fd", Digest: map[string]string{"sha256": "xyz"}}}, wantErr: "not valid hex"},
		{name: "firmware is no subject", subs: []Subject{{Name: "OVMF.fd", Digest: map[string]string{"sha256": hexOf("00", 32)}}}, wantErr: "equals no subject's digest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rv := snpValues()
			if tc.edit != nil {
				tc.edit(&rv)
			}
			subs := tc.subs
			if subs == nil {
				subs = []Subject{firmwareSubject()}
			}
			_, err := NewReferenceValuesStatement(subs, rv)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("NewReferenceValuesStatement() = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseStatementErrors(t *testing.T) {
	good, err := Marshal(goldenStatements(t)["snp-sweep"])
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{name: "truncated", in: string(good[:len(good)/2]), wantErr: "in-toto statement"},
		{name: "old type", in: strings.Replace(string(good), "Statement/v1", "Statement/v0.1", 1), wantErr: `_type "https://in-toto.io/Statement/v0.1", want`},
		{name: "unknown field", in: strings.Replace(string(good), `"_type"`, `"extra": 1, "_type"`, 1), wantErr: "unknown field"},
		{name: "no subject", in: `{"_type":"https://in-toto.io/Statement/v1","predicateType":"x","predicate":{}}`, wantErr: "at least one subject"},
		{name: "bad subject digest", in: `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"ab"}}],"predicateType":"x","predicate":{}}`, wantErr: "incorrect length"},
		{name: "no predicate", in: `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"` + fwSHA256 + `"}}],"predicateType":"x"}`, wantErr: "predicate object required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseStatement([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseStatement() = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestValidateStatementPredicate(t *testing.T) {
	good, err := Marshal(goldenStatements(t)["snp-sweep"])
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{name: "unknown predicate type", in: strings.Replace(string(good), PredicateType, "https://example.com/other/v1", 1), wantErr: `predicate type "https://example.com/other/v1" is unknown`},
		{name: "unknown predicate field", in: strings.Replace(string(good), `"platform"`, `"colour": "blue", "platform"`, 1), wantErr: `unknown field "colour"`},
		{name: "bad platform", in: strings.Replace(string(good), `"sev-snp"`, `"sev-xx"`, 1), wantErr: `platform "sev-xx"`},
		{name: "vcpus a string", in: strings.Replace(string(good), `"vcpus": 1`, `"vcpus": "1"`, 1), wantErr: "reference values: json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := ParseStatement([]byte(tc.in))
			if err != nil {
				t.Fatalf("ParseStatement: %v", err)
			}
			err = ValidateStatement(st)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ValidateStatement() = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestMatchSubject(t *testing.T) {
	boot, subs := bootValues()
	st, err := NewReferenceValuesStatement(subs, boot)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		digests map[string]string
		want    string
		wantErr bool
	}{
		{name: "firmware both", digests: map[string]string{"sha256": fwSHA256, "sha384": fwSHA384, "sha512": hexOf("00", 64)}, want: "OVMF-AmdSev.fd"},
		{name: "firmware upper case", digests: map[string]string{"sha256": strings.ToUpper(fwSHA256)}, want: "OVMF-AmdSev.fd"},
		{name: "kernel", digests: map[string]string{"sha256": hexOf("c3", 32), "sha384": hexOf("00", 48)}, want: "vmlinuz"},
		{name: "one algorithm disagrees", digests: map[string]string{"sha256": fwSHA256, "sha384": hexOf("00", 48)}, wantErr: true},
		{name: "no shared algorithm", digests: map[string]string{"sha512": hexOf("00", 64)}, wantErr: true},
		{name: "other file", digests: map[string]string{"sha256": hexOf("00", 32)}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MatchSubject(st, tc.digests)
			if tc.wantErr {
				if !errors.Is(err, ErrSubjectMismatch) {
					t.Errorf("MatchSubject() = %v, %v, want ErrSubjectMismatch", got.Name, err)
				}
				return
			}
			if err != nil || got.Name != tc.want {
				t.Errorf("MatchSubject() = %q, %v, want %q", got.Name, err, tc.want)
			}
		})
	}
}

func TestDigests(t *testing.T) {
	// Known answers for "abc": FIPS 180-2 appendix examples.
	got, err := Digests(strings.NewReader("abc"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		"sha384": "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
		"sha512": "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Digests(abc) (-want +got):\n%s", diff)
	}
}
