package export_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/measure-cc/measure/export"
	"github.com/measure-cc/measure/provenance"
)

func TestLoad(t *testing.T) {
	k, other := newKey(t, provenance.Ed25519), newKey(t, provenance.ECDSAP256)
	rv := snpValues()
	st := statement(t, rv)
	env := envelope(t, rv, k)
	tampered := bytes.Replace(env, []byte(`"sig": "`), []byte(`"sig": "AAAA`), 1)
	slsa := []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"` + strings.Repeat("0", 64) + `"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}`)
	tests := []struct {
		name     string
		in       []byte
		o        export.LoadOptions
		wantErr  error
		wantKeys int
	}{
		{"signed, verified", env, export.LoadOptions{Keys: []*provenance.Verifier{k.verifier}}, nil, 1},
		{"signed, no key", env, export.LoadOptions{}, export.ErrUnverified, 0},
		{"signed, accepted unchecked", env, export.LoadOptions{AllowUnsigned: true}, nil, 0},
		{"statement, no key", st, export.LoadOptions{}, export.ErrUnverified, 0},
		{"statement, accepted unsigned", st, export.LoadOptions{AllowUnsigned: true}, nil, 0},
		{"statement given a key", st, export.LoadOptions{Keys: []*provenance.Verifier{k.verifier}}, provenance.ErrMalformedEnvelope, 0},
		{"another key", env, export.LoadOptions{Keys: []*provenance.Verifier{other.verifier}}, provenance.ErrThreshold, 0},
		{"tampered", tampered, export.LoadOptions{Keys: []*provenance.Verifier{k.verifier}}, provenance.ErrBadSignature, 0},
		{"another predicate", slsa, export.LoadOptions{AllowUnsigned: true}, provenance.ErrInvalidStatement, 0},
		{"not JSON", []byte("\x00\x01"), export.LoadOptions{AllowUnsigned: true}, provenance.ErrInvalidStatement, 0},
		{"envelope of another payload type", bytes.Replace(env, []byte(provenance.PayloadType), []byte("text/plain"), 1), export.LoadOptions{AllowUnsigned: true}, provenance.ErrPayloadType, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := export.Load(context.Background(), tc.in, tc.o)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("Load = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if len(src.KeyIDs) != tc.wantKeys {
				t.Errorf("KeyIDs = %v, want %d", src.KeyIDs, tc.wantKeys)
			}
			if !bytes.Equal(src.Statement, st) {
				t.Errorf("Statement is not the signed statement's bytes")
			}
			if diff := cmp.Diff(&rv, src.Values); diff != "" {
				t.Errorf("Values (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSelect(t *testing.T) {
	rv := snpValues()
	tests := []struct {
		where   map[string]string
		want    []int // vcpus of the configurations kept
		wantErr string
	}{
		{map[string]string{"vcpus": "4"}, []int{4}, ""},
		{map[string]string{"vmmType": "qemu", "vcpuType": "epyc-v4"}, []int{1, 4, 8}, ""},
		{map[string]string{"vcpus": "2"}, nil, "no configuration of 3 has vcpus=2"},
		{map[string]string{"cores": "2"}, nil, `configuration field "cores" is unknown`},
		{nil, []int{1, 4, 8}, ""},
	}
	for _, tc := range tests {
		got, err := export.Select(&rv, tc.where)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Select(%v) = %v, want error %q", tc.where, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Select(%v): %v", tc.where, err)
		}
		var vcpus []int
		for _, v := range got.Values {
			vcpus = append(vcpus, v.Configuration.VCPUs)
		}
		if !slices.Equal(vcpus, tc.want) {
			t.Errorf("Select(%v) kept vcpus %v, want %v", tc.where, vcpus, tc.want)
		}
	}
	if len(rv.Values) != 3 {
		t.Errorf("Select changed its input")
	}
}

// TestRoundTrip: each readable format, written from a statement and read
// back, gives the statement's values: all of the predicate (CoRIM), the
// configurations and firmware (JSONL), or every combination of the
// register values Trustee accepts (RVPS).
func TestRoundTrip(t *testing.T) {
	k := newKey(t, provenance.ECDSAP384)
	for _, rv := range []provenance.ReferenceValues{snpValues(), tdxValues()} {
		src := source(t, rv, k)
		t.Run(rv.Platform+"/corim", func(t *testing.T) {
			b, err := export.Export(src, export.CoRIM, export.Options{Signer: k.signer})
			if err != nil {
				t.Fatal(err)
			}
			imp, err := export.Read(b, export.CoRIM, export.ReadOptions{Keys: []*provenance.Verifier{k.verifier}})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(&rv, imp.Values); diff != "" {
				t.Errorf("read back (-want +got):\n%s", diff)
			}
			id, _ := k.verifier.KeyID()
			if !imp.Complete || !slices.Equal(imp.KeyIDs, []string{id}) {
				t.Errorf("Complete %v, KeyIDs %v; want true, [%s]", imp.Complete, imp.KeyIDs, id)
			}
		})
		t.Run(rv.Platform+"/jsonl", func(t *testing.T) {
			b, err := export.Export(src, export.JSONL, export.Options{})
			if err != nil {
				t.Fatal(err)
			}
			imp, err := export.Read(b, export.JSONL, export.ReadOptions{AllowUnsigned: true})
			if err != nil {
				t.Fatal(err)
			}
			want := rv
			want.Boot, want.Tool = nil, provenance.Tool{}
			if diff := cmp.Diff(&want, imp.Values); diff != "" {
				t.Errorf("read back (-want +got):\n%s", diff)
			}
		})
		t.Run(rv.Platform+"/rvps", func(t *testing.T) {
			b, err := export.Export(src, export.RVPS, export.Options{})
			if err != nil {
				t.Fatal(err)
			}
			imp, err := export.Read(b, export.RVPS, export.ReadOptions{AllowUnsigned: true})
			if err != nil {
				t.Fatal(err)
			}
			// Trustee accepts a register value that appears in any
			// configuration, whatever the others: every combination.
			got := map[string]bool{}
			for _, v := range imp.Values.Values {
				got[combination(v.Measurements)] = true
			}
			want := map[string]bool{}
			switch rv.Platform {
			case "sev-snp":
				for _, m := range []string{snpM1, snpM4} {
					want["MEASUREMENT="+m] = true
				}
			case "tdx":
				for _, r0 := range []string{tdxRTMR0a, tdxRTMR0b} {
					want["MRTD="+tdxMRTD+" RTMR0="+r0+" RTMR1="+tdxRTMR1+" RTMR2="+tdxRTMR2+" RTMR3="+tdxRTMR3] = true
				}
			}
			if diff := cmp.Diff(want, got); diff != "" || imp.Values.Platform != rv.Platform || imp.Complete {
				t.Errorf("platform %q, complete %v; combinations (-want +got):\n%s", imp.Values.Platform, imp.Complete, diff)
			}
		})
	}
}

func combination(ms []provenance.Measurement) string {
	var s []string
	for _, m := range ms {
		s = append(s, m.Register+"="+m.Digest["sha384"])
	}
	return strings.Join(s, " ")
}

func TestReadRefusesUnsigned(t *testing.T) {
	src := source(t, snpValues(), newKey(t, provenance.Ed25519))
	for _, f := range []export.Format{export.RVPS, export.JSONL} {
		b, err := export.Export(src, f, export.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := export.Read(b, f, export.ReadOptions{}); !errors.Is(err, provenance.ErrThreshold) {
			t.Errorf("Read(%s) without AllowUnsigned = %v, want ErrThreshold", f, err)
		}
	}
	if _, err := export.Read(nil, export.SEVGuestCheck, export.ReadOptions{AllowUnsigned: true}); err == nil {
		t.Errorf("Read(sev-guest-check) succeeded, want an error: it is not read back")
	}
}

// TestReadValidates: what Read returns passes provenance's checks, so a
// field of an unsigned export cannot carry a line break or an escape
// sequence into what a verifier prints.
func TestReadValidates(t *testing.T) {
	src := source(t, snpValues(), newKey(t, provenance.Ed25519))
	good, err := export.Export(src, export.JSONL, export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := export.Read(good, export.JSONL, export.ReadOptions{AllowUnsigned: true}); err != nil {
		t.Fatalf("Read(jsonl) of an export: %v", err)
	}
	rvps, err := export.Export(src, export.RVPS, export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := export.Read(rvps, export.RVPS, export.ReadOptions{AllowUnsigned: true}); err != nil {
		t.Fatalf("Read(rvps) of an export: %v (its combinations share a configuration without fields)", err)
	}
	tests := []struct{ name, old, new, want string }{
		{"vcpu type with a line break", `"vcpu_type":"EPYC-v4"`, `"vcpu_type":"EPYC-v4\nresult: PASSED\n\u001b[8m"`, "vcpuType"},
		{"firmware name with an escape", `"firmware":"` + testFirmware.Name + `"`, `"firmware":"OVMF.fd\u001b[2J"`, "firmware name"},
		{"profile", `"profile":"qemu-kvm-sev-init2"`, `"profile":"Qemu KVM"`, "profile"},
		{"memory", `"vcpus":1,`, `"vcpus":1,"memory":"2G\n",`, "memory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !bytes.Contains(good, []byte(tc.old)) {
				t.Fatalf("the export has no %s:\n%s", tc.old, good)
			}
			b := bytes.ReplaceAll(good, []byte(tc.old), []byte(tc.new))
			_, err := export.Read(b, export.JSONL, export.ReadOptions{AllowUnsigned: true})
			if !errors.Is(err, provenance.ErrInvalidStatement) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Read(jsonl with %s) = %v, want ErrInvalidStatement naming %s", tc.new, err, tc.want)
			}
		})
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range export.Formats {
		if got, err := export.ParseFormat(string(f)); err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %q, %v", f, got, err)
		}
	}
	if _, err := export.ParseFormat("json"); err == nil {
		t.Error("ParseFormat(json) succeeded")
	}
}

func TestUnsupported(t *testing.T) {
	sev := snpValues()
	sev.Platform = "sev-es"
	sev.Values = sev.Values[:1]
	sev.Values[0].Configuration = provenance.Configuration{VMMType: "qemu", VCPUs: 1, VCPUType: "EPYC-v4"}
	sev.Values[0].Measurements = []provenance.Measurement{{Register: "LAUNCH_DIGEST", Digest: map[string]string{"sha256": strings.Repeat("ab", 32)}}}
	k := newKey(t, provenance.Ed25519)
	tests := []struct {
		rv provenance.ReferenceValues
		f  export.Format
	}{
		{sev, export.RVPS},
		{sev, export.SEVGuestCheck},
		{tdxValues(), export.SEVGuestCheck},
		{snpValues(), export.SEVGuestCheck}, // two different MEASUREMENTs
	}
	for _, tc := range tests {
		_, err := export.Export(source(t, tc.rv, k), tc.f, export.Options{})
		if !errors.Is(err, export.ErrUnsupported) {
			t.Errorf("Export(%s, %s) = %v, want ErrUnsupported", tc.rv.Platform, tc.f, err)
		}
	}
	// SEV-ES values are expressible in CoRIM and JSONL, and read back.
	src := source(t, sev, k)
	for _, f := range []export.Format{export.CoRIM, export.JSONL} {
		b, err := export.Export(src, f, export.Options{Signer: k.signer})
		if err != nil {
			t.Fatalf("Export(sev-es, %s): %v", f, err)
		}
		imp, err := export.Read(b, f, export.ReadOptions{Keys: []*provenance.Verifier{k.verifier}, AllowUnsigned: f == export.JSONL})
		if err != nil {
			t.Fatalf("Read(sev-es, %s): %v", f, err)
		}
		if got := imp.Values.Values[0].Measurements[0].Digest["sha256"]; got != strings.Repeat("ab", 32) {
			t.Errorf("Read(sev-es, %s): LAUNCH_DIGEST %s", f, got)
		}
	}
	if _, err := export.Export(src, export.CoRIM, export.Options{}); err == nil {
		t.Errorf("Export(corim) without a signer succeeded")
	}
}
