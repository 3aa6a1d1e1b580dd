package verify_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/measure-cc/measure/provenance"
	"github.com/measure-cc/measure/verify"
	"github.com/measure-cc/measure/verify/verifytest"
)

// TestAssessmentLevels checks that each verdict states every check's level
// separately and that only a verdict whose hardware chain ends at a
// trusted root, or whose caller skipped that by name, is PASSED.
func TestAssessmentLevels(t *testing.T) {
	const forged = uint64(250)<<56 | uint64(30)<<48 | uint64(9)<<8 | 9
	signer, err := verifytest.NewSignerFor(verifytest.Chain{TCB: forged})
	if err != nil {
		t.Fatal(err)
	}
	var meas [48]byte
	meas[0] = 0x42
	refs := refsFor("sev-snp", snpRef(provenance.Configuration{VMMType: "qemu", VCPUs: 4}, hex.EncodeToString(meas[:])))
	good, err := signer.Sign(verifytest.Report{Measurement: meas, TCB: forged})
	if err != nil {
		t.Fatal(err)
	}
	var other [48]byte
	mismatch, err := signer.Sign(verifytest.Report{Measurement: other, TCB: forged})
	if err != nil {
		t.Fatal(err)
	}
	tampered := append([]byte(nil), good...)
	tampered[0x50] ^= 1 // REPORT_DATA, inside the signed area
	debug, err := signer.Sign(verifytest.Report{Measurement: meas, TCB: forged, Policy: verifytest.PolicyNoDebug | verifytest.PolicyDebugBit})
	if err != nil {
		t.Fatal(err)
	}
	certs := verify.SNPCerts{VCEK: signer.VCEK(), ASK: signer.ASK(), ARK: signer.ARK()}
	arkFP, err := verify.RootFingerprint(signer.ARK())
	if err != nil {
		t.Fatal(err)
	}
	low := verify.TCB{SNP: 31}

	type levels map[string]string
	tests := []struct {
		name       string
		report     []byte
		certs      *verify.SNPCerts
		trust      verify.HardwareTrust
		minTCB     *verify.TCB
		unsigned   bool
		wantResult string
		wantErr    error
		want       levels
	}{
		{name: "no certificates", report: good, wantResult: verify.Unverified, wantErr: verify.ErrHardwareUnverified,
			want: levels{verify.AspectReferenceValues: verify.StatusPassed, verify.AspectMeasurement: verify.StatusPassed,
				verify.AspectHardware: verify.StatusNotChecked, verify.AspectTCB: verify.StatusNotChecked, verify.AspectPolicy: verify.StatusPassed}},
		{name: "no certificates, skipped by name", report: good, trust: verify.HardwareTrust{Skip: true}, wantResult: verify.Passed,
			want: levels{verify.AspectHardware: verify.StatusSkipped, verify.AspectTCB: verify.StatusNotChecked}},
		{name: "test root not named", report: good, certs: &certs, wantResult: verify.Unverified, wantErr: verify.ErrHardwareUnverified,
			want: levels{verify.AspectHardware: verify.StatusFailed, verify.AspectTCB: verify.StatusNotChecked}},
		// A chain to a root nobody named, accepted by --no-hardware-check
		// (as from a lying KDS with --fetch): PASSED as asked, but neither
		// the hardware nor the TCB level claims anything.
		{name: "test root not named, check skipped", report: good, certs: &certs, trust: verify.HardwareTrust{Skip: true}, wantResult: verify.Passed,
			want: levels{verify.AspectHardware: verify.StatusSkipped, verify.AspectTCB: verify.StatusNotChecked}},
		{name: "test root named", report: good, certs: &certs, trust: verify.HardwareTrust{Roots: []string{arkFP}}, wantResult: verify.Passed,
			want: levels{verify.AspectReferenceValues: verify.StatusPassed, verify.AspectMeasurement: verify.StatusPassed,
				verify.AspectHardware: verify.StatusPassed, verify.AspectTCB: verify.StatusPassed, verify.AspectPolicy: verify.StatusPassed}},
		// Reference values nobody signed (read back from an export with
		// --allow-unsigned-refs): everything else holds, still no PASS.
		{name: "unsigned reference values", report: good, certs: &certs, trust: verify.HardwareTrust{Roots: []string{arkFP}}, unsigned: true,
			wantResult: verify.Unverified, wantErr: verify.ErrUnsignedReferences,
			want: levels{verify.AspectReferenceValues: verify.StatusNotChecked, verify.AspectMeasurement: verify.StatusPassed,
				verify.AspectHardware: verify.StatusPassed, verify.AspectTCB: verify.StatusPassed}},
		{name: "unsigned reference values, mismatch", report: mismatch, certs: &certs, trust: verify.HardwareTrust{Roots: []string{arkFP}}, unsigned: true,
			wantResult: verify.Failed, wantErr: verify.ErrMismatch,
			want: levels{verify.AspectReferenceValues: verify.StatusNotChecked, verify.AspectMeasurement: verify.StatusFailed}},
		{name: "signature broken", report: tampered, certs: &certs, trust: verify.HardwareTrust{Roots: []string{arkFP}}, wantResult: verify.Failed, wantErr: verify.ErrHardwareSignature,
			want: levels{verify.AspectHardware: verify.StatusFailed, verify.AspectTCB: verify.StatusNotChecked}},
		{name: "mismatch outranks policy", report: mismatch, certs: &certs, trust: verify.HardwareTrust{Roots: []string{arkFP}}, minTCB: &low,
			wantResult: verify.Failed, wantErr: verify.ErrMismatch,
			want: levels{verify.AspectMeasurement: verify.StatusFailed, verify.AspectTCB: verify.StatusFailed, verify.AspectHardware: verify.StatusPassed}},
		{name: "TCB below the minimum", report: good, certs: &certs, trust: verify.HardwareTrust{Roots: []string{arkFP}}, minTCB: &low,
			wantResult: verify.Failed, wantErr: verify.ErrPolicy,
			want: levels{verify.AspectTCB: verify.StatusFailed, verify.AspectPolicy: verify.StatusPassed}},
		{name: "debug", report: debug, certs: &certs, trust: verify.HardwareTrust{Roots: []string{arkFP}}, wantResult: verify.Failed, wantErr: verify.ErrPolicy,
			want: levels{verify.AspectPolicy: verify.StatusFailed, verify.AspectTCB: verify.StatusPassed}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := verify.ParseSNPReport(tc.report)
			if err != nil {
				t.Fatal(err)
			}
			a := verify.Assessment{Name: "report.bin", Evidence: ev, Values: refs,
				References: verify.References{KeyIDs: []string{"SHA256:test"}}, Trust: tc.trust}
			if tc.minTCB != nil {
				a.Policy.MinTCB = tc.minTCB
			}
			if tc.unsigned {
				a.References.KeyIDs = nil
			}
			if tc.certs != nil {
				hw, err := verify.VerifySNPSignature(ev, *tc.certs, verifytest.Created.AddDate(1, 0, 0))
				if hw != nil {
					a.Hardware = *hw
				}
				a.HardwareErr = err
			}
			v, err := a.Verdict()
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Verdict() error = %v, want %v", err, tc.wantErr)
			}
			if v.Result != tc.wantResult {
				t.Errorf("Result = %s, want %s (failures %q)", v.Result, tc.wantResult, v.Failures)
			}
			var names []string
			got := levels{}
			for _, l := range v.Checks {
				names = append(names, l.Name)
				got[l.Name] = l.Status
				if l.Detail == "" {
					t.Errorf("level %s has no detail", l.Name)
				}
			}
			if want := []string{verify.AspectReferenceValues, verify.AspectMeasurement, verify.AspectHardware, verify.AspectTCB, verify.AspectPolicy}; strings.Join(names, ",") != strings.Join(want, ",") {
				t.Errorf("levels %q, want %q", names, want)
			}
			for n, s := range tc.want {
				if got[n] != s {
					t.Errorf("level %s = %s, want %s", n, got[n], s)
				}
			}
			// The VSA claims the hardware level exactly when the verdict
			// passed with that level passed.
			vsa, err := v.VSA("test", "0", nil)
			if err != nil {
				t.Fatal(err)
			}
			if claims, want := strings.Contains(string(vsa), verify.LevelHardware), v.Result == verify.Passed && got[verify.AspectHardware] == verify.StatusPassed; claims != want {
				t.Errorf("VSA claims %s: %v, want %v", verify.LevelHardware, claims, want)
			}
			var text bytes.Buffer
			if err := v.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s", text.String())
			if !strings.Contains(text.String(), "result: "+tc.wantResult+"\n") {
				t.Errorf("text lacks the result:\n%s", text.String())
			}
		})
	}
}
