package verify_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/measure-cc/measure/verify"
	"github.com/measure-cc/measure/verify/verifytest"
)

// TestSNPEndorsementMatchesReport signs reports with test chains whose VCEK
// and VLEK certificates vouch for a chosen TCB and HWID: a report claiming
// a TCB or chip its key was not issued for must fail as a hardware
// signature failure, however its other checks go.
func TestSNPEndorsementMatchesReport(t *testing.T) {
	const (
		tcb0   = uint64(0)
		forged = uint64(250)<<56 | uint64(30)<<48 | uint64(9)<<8 | 9 // bl=9,tee=9,snp=30,ucode=250
	)
	var chipA, chipB [64]byte
	chipA[0], chipA[63] = 0xaa, 0x01
	chipB[0], chipB[63] = 0xbb, 0x02
	tests := []struct {
		name    string
		chain   verifytest.Chain
		report  verifytest.Report
		table   bool // the certificates come in the extended report's table
		wantErr error
		// wantTCB is the certified TCB when it verifies.
		wantTCB verify.TCB
		// wantMasked: the HWID was not compared, CHIP_ID being zeros.
		wantMasked bool
	}{
		{name: "forged TCB, VCEK for TCB 0", chain: verifytest.Chain{TCB: tcb0, HWID: chipA},
			report: verifytest.Report{TCB: forged, ChipID: chipA}, wantErr: verify.ErrHardwareSignature},
		{name: "forged TCB, VCEK for TCB 0, extended report", chain: verifytest.Chain{TCB: tcb0, HWID: chipA},
			report: verifytest.Report{TCB: forged, ChipID: chipA}, table: true, wantErr: verify.ErrHardwareSignature},
		{name: "TCB lower than the VCEK's", chain: verifytest.Chain{TCB: forged, HWID: chipA},
			report: verifytest.Report{TCB: tcb0, ChipID: chipA}, wantErr: verify.ErrHardwareSignature},
		{name: "VCEK for another chip", chain: verifytest.Chain{TCB: forged, HWID: chipA},
			report: verifytest.Report{TCB: forged, ChipID: chipB}, wantErr: verify.ErrHardwareSignature},
		{name: "TCB and chip match", chain: verifytest.Chain{TCB: forged, HWID: chipA},
			report: verifytest.Report{TCB: forged, ChipID: chipA}, wantTCB: verify.TCB{Bootloader: 9, TEE: 9, SNP: 30, Microcode: 250}},
		{name: "TCB and chip match, extended report", chain: verifytest.Chain{TCB: forged, HWID: chipA},
			report: verifytest.Report{TCB: forged, ChipID: chipA}, table: true, wantTCB: verify.TCB{Bootloader: 9, TEE: 9, SNP: 30, Microcode: 250}},
		{name: "chip ID masked", chain: verifytest.Chain{TCB: forged, HWID: chipA},
			report: verifytest.Report{TCB: forged}, wantTCB: verify.TCB{Bootloader: 9, TEE: 9, SNP: 30, Microcode: 250}, wantMasked: true},
		{name: "forged TCB, VLEK for TCB 0", chain: verifytest.Chain{TCB: tcb0},
			report: verifytest.Report{TCB: forged, VLEK: true}, wantErr: verify.ErrHardwareSignature},
		{name: "VLEK TCB matches", chain: verifytest.Chain{TCB: forged},
			report: verifytest.Report{TCB: forged, VLEK: true}, wantTCB: verify.TCB{Bootloader: 9, TEE: 9, SNP: 30, Microcode: 250}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			signer, err := verifytest.NewSignerFor(tc.chain)
			if err != nil {
				t.Fatal(err)
			}
			b, err := signer.Sign(tc.report)
			if err != nil {
				t.Fatal(err)
			}
			certs := verify.SNPCerts{VCEK: signer.VCEK(), ASK: signer.ASK(), ARK: signer.ARK()}
			if tc.report.VLEK {
				certs = verify.SNPCerts{VLEK: signer.VLEK(), ASK: signer.ASVK(), ARK: signer.ARK()}
			}
			if tc.table {
				table, err := signer.CertTable()
				if err != nil {
					t.Fatal(err)
				}
				b = append(b, table...)
				certs.VCEK, certs.VLEK = nil, nil
			}
			r, err := verify.ParseSNPReport(b)
			if err != nil {
				t.Fatal(err)
			}
			hw, err := verify.VerifySNPSignature(r, certs, reportTime)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("VerifySNPSignature = %+v, %v; want %v", hw, err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if hw.CertifiedTCB == nil || *hw.CertifiedTCB != tc.wantTCB {
				t.Errorf("CertifiedTCB = %v, want %v", hw.CertifiedTCB, tc.wantTCB)
			}
			masked := slices.ContainsFunc(hw.Limits, func(s string) bool { return strings.Contains(s, "HWID not compared") })
			if masked != tc.wantMasked {
				t.Errorf("Limits = %q; want the HWID named as not compared: %v", hw.Limits, tc.wantMasked)
			}
			// The test chain's root vouches only once named as trusted
			// (Assessment sets TrustedRoot for a --trust-root).
			v := verify.Verdict{Result: verify.Passed, Hardware: *hw}
			vsa, err := v.VSA("test", "0", nil)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(vsa), verify.LevelTCBCertified) || strings.Contains(string(vsa), verify.LevelHardware) {
				t.Errorf("VSA claims hardware levels for a root nobody trusted:\n%s", vsa)
			}
			v.Hardware.TrustedRoot = true
			if vsa, err = v.VSA("test", "0", nil); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(vsa), verify.LevelTCBCertified) {
				t.Errorf("VSA does not claim %s:\n%s", verify.LevelTCBCertified, vsa)
			}
		})
	}
}

// TestVSATCBCertifiedOnlyWhenCompared: without a certified TCB (no
// certificates, or a failed check) the VSA does not claim it.
func TestVSATCBCertifiedOnlyWhenCompared(t *testing.T) {
	for _, hw := range []verify.Hardware{{}, {Checked: true}} {
		v := verify.Verdict{Result: verify.Passed, Hardware: hw}
		vsa, err := v.VSA("test", "0", nil)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(vsa), verify.LevelTCBCertified) {
			t.Errorf("VSA for %+v claims %s:\n%s", hw, verify.LevelTCBCertified, vsa)
		}
	}
}

// TestHardwareTrusted: only a chain to the vendor's root, or to a root the
// caller named, or an explicit skip, is trusted; nothing else is a PASS.
func TestHardwareTrusted(t *testing.T) {
	vendor := verify.Hardware{Checked: true, Verified: true, VendorRoot: true, RootSHA256: "aa"}
	own := verify.Hardware{Checked: true, Verified: true, Root: "ARK-Test", RootSHA256: "bb"}
	tests := []struct {
		name    string
		h       verify.Hardware
		trust   verify.HardwareTrust
		wantErr string
	}{
		{"vendor root", vendor, verify.HardwareTrust{}, ""},
		{"not checked", verify.Hardware{}, verify.HardwareTrust{}, "no certificates"},
		{"not checked, skipped on purpose", verify.Hardware{}, verify.HardwareTrust{Skip: true}, ""},
		{"failed", verify.Hardware{Checked: true}, verify.HardwareTrust{}, "did not verify"},
		{"failed, named root", verify.Hardware{Checked: true, RootSHA256: "bb"}, verify.HardwareTrust{Roots: []string{"bb"}}, "did not verify"},
		{"own root, not named", own, verify.HardwareTrust{}, "ARK-Test, which is not the vendor's root"},
		{"own root, another named", own, verify.HardwareTrust{Roots: []string{"cc"}}, "not named as trusted"},
		{"own root, named", own, verify.HardwareTrust{Roots: []string{"BB"}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.h.Trusted(tc.trust)
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("Trusted() = %v", err)
				}
				return
			}
			if !errors.Is(err, verify.ErrHardwareUnverified) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Trusted() = %v, want ErrHardwareUnverified with %q", err, tc.wantErr)
			}
		})
	}
}
