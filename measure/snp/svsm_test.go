package snp_test

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"testing"

	"github.com/measure-cc/measure/measure/snp"
	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/ovmf/ovmftest"
)

// SVSM fixtures: virtee/sev-snp-measure tests/fixtures at 8f2b337 (see
// testdata/svsm/README.md), checked by sha256 before use.
var svsmFixtures = map[string]string{
	"svsm.bin":     "287fcee67b501b072e4953b5006059d088b454e9197bc318885385acb233d5d1",
	"svsm_ovmf.fd": "50d1bf8676c7fb2ff6b8e50cf8fc0491534de27c12d6345a2dcefef51cbac97e",
}

const (
	svsmVarsSize = 540672   // sev-snp-measure's tests: --vars-size 540672 (0x84000)
	epycV4       = 0x800f12 // vcpu_types.CPU_SIGS["EPYC-v4"]
)

func loadSVSMFixture(t testing.TB, name string) *ovmf.Image {
	t.Helper()
	b, err := os.ReadFile("testdata/svsm/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != svsmFixtures[name] {
		t.Fatalf("testdata/svsm/%s: sha256 %x, want %s", name, got, svsmFixtures[name])
	}
	img, err := ovmf.Parse(b)
	if err != nil {
		t.Fatalf("ovmf.Parse(%s): %v", name, err)
	}
	return img
}

func newSVSMFixtureMeasurer(t testing.TB, varsSize uint64) *snp.SVSMMeasurer {
	t.Helper()
	m, err := snp.NewSVSMMeasurer(loadSVSMFixture(t, "svsm_ovmf.fd"), loadSVSMFixture(t, "svsm.bin"), varsSize)
	if err != nil {
		t.Fatalf("NewSVSMMeasurer: %v", err)
	}
	return m
}

// TestSVSMVectors checks SVSM-mode digests computed by sev-snp-measure.
func TestSVSMVectors(t *testing.T) {
	tests := []struct {
		name     string
		vcpus    int
		varsSize uint64
		profile  snp.Profile
		ssmFCW   bool
		want     string
		source   string
	}{
		// Real hardware (fixtures README: coconut-svsm/qemu 0e64fb84 on
		// coconut-svsm/linux e1335c6f0, legacy KVM_SEV_INIT).
		{"init-4", 4, svsmVarsSize, snp.ProfileQEMUInit, false,
			"265aed64f2454253f6b19e49e17041ef052dedf964dd8d2740794a06aee3a720c475e3643a1b7e26b9efce7a107bf77f",
			"sev-snp-measure tests/test_guest.py test_snp_svsm_4_vcpus, 0a1396f..f89f064"},
		{"init-2", 2, svsmVarsSize, snp.ProfileQEMUInit, false,
			"4ae03ca013690e956bc1eb16bc1c6465788dba64ad88a650db09216fa9cdddf06167bfce810eba8988108e71458dd68b",
			"sev-snp-measure tests/test_guest.py test_snp_svsm_2_vcpus, 0a1396f..f89f064"},
		{"init-4-vars-file", 4, 0x37c000, snp.ProfileQEMUInit, false,
			"6fd1c8da02b9475f6b4ded09bf248b2318150b9c1dc4c3f8e9fe29f2304206b8cb9111fee10e8ba8f7ca3e59b62a86e1",
			"sev-snp-measure f89f064 CLI, --vars-file svsm_ovmf.fd (0x37c000 bytes)"},
		// sev-snp-measure from ae95e59 on: MXCSR 0x1f80, FCW 0 (its bug).
		{"ssm-fcw-4", 4, svsmVarsSize, "", true,
			"27d154c27b7b359c935e250ec6fee72aa0ae8c1225e3b0e1cf46a9567e938066d7d6f94bbdc4a857818bdb79277a44b2",
			"sev-snp-measure tests/test_guest.py test_snp_svsm_4_vcpus, ae95e59..8f2b337"},
		{"ssm-fcw-2", 2, svsmVarsSize, snp.ProfileQEMUInit2, true,
			"9b94745036aafddf4f7f8b00c7513abb5b7703178cb95aaa57928bd963d68d3bfcb715d6019b9167ee2517b11b0d9be7",
			"sev-snp-measure tests/test_guest.py test_snp_svsm_2_vcpus, ae95e59..8f2b337"},
		{"ssm-fcw-1", 1, svsmVarsSize, "", true,
			"35782e6d1b45207504c6d4b267423a2291af6112f53b26eb76fb292619b41b3c9e4312608cfae25ba9d6dbeb7a5b78ae",
			"sev-snp-measure 8f2b337 CLI"},
		// KVM_SEV_INIT2 with FCW set: sev-snp-measure 8f2b337 with its
		// VMSA_SVSM fcw= corrected to x87_fcw= (one word).
		{"init2-4", 4, svsmVarsSize, "", false,
			"a250e27d37f247ea53d86d2f446054dfe6de1403436232d6075b45f0e48b91cdb50f9b6c3273b0ca5da03c6feafb51de",
			"sev-snp-measure 8f2b337 with x87_fcw=fcw"},
		{"init2-2", 2, svsmVarsSize, snp.ProfileQEMUInit2, false,
			"54f444a0b231a39a4ffb8d34662e36f699268786581cbe40e606efcb9f3bde737e3655eecf93eb29fe475dc78b755e2c",
			"sev-snp-measure 8f2b337 with x87_fcw=fcw"},
	}
	ms := map[uint64]*snp.SVSMMeasurer{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := ms[tc.varsSize]
			if m == nil {
				m = newSVSMFixtureMeasurer(t, tc.varsSize)
				ms[tc.varsSize] = m
			}
			cfg := snp.SVSMConfig{VCPUs: tc.vcpus, VCPUSig: epycV4, Profile: tc.profile, SevSnpMeasureFCW: tc.ssmFCW}
			got, err := m.SNP(cfg)
			if err != nil {
				t.Fatalf("SNP(%+v): %v", cfg, err)
			}
			if got.String() != tc.want {
				t.Errorf("SNP(%+v) = %s, want %s (%s)", cfg, got, tc.want, tc.source)
			}
			// A fresh measurer gives the same value (no cache effect).
			if tc.varsSize == svsmVarsSize {
				again, err := newSVSMFixtureMeasurer(t, tc.varsSize).SNP(cfg)
				if err != nil || again != got {
					t.Errorf("SNP(%+v) on a fresh measurer = %s, %v; want %s", cfg, again, err, got)
				}
			}
		})
	}
}

// TestSVSMLayout checks the layout against the fixtures' values read from
// sev-snp-measure (docs/research/launch-profiles-facts.md section 2.2).
func TestSVSMLayout(t *testing.T) {
	got := newSVSMFixtureMeasurer(t, svsmVarsSize).Layout()
	want := snp.SVSMLayout{OVMFGPA: 0xffc84000, VarsGPA: 0xffc00000, SVSMGPA: 0xffaea000, EntryPoint: 0xffaea000}
	if got != want {
		t.Errorf("Layout() = %+x, want %+x", got, want)
	}
}

// TestSVSMVMSABytes checks the VMSA page against the vmsa0.bin that
// sev-snp-measure --dump-vmsa writes, and the page against the digest: the
// n+1-vCPU digest is the n-vCPU digest extended by one VMSA PAGE_INFO.
func TestSVSMVMSABytes(t *testing.T) {
	tests := []struct {
		name    string
		profile snp.Profile
		ssmFCW  bool
		want    string // sha256 of vmsa0.bin
	}{
		{"init", snp.ProfileQEMUInit, false, "ca6b998579f90916b68006f053f7fc628a77dc717be09eb0e3bcf3f982f66975"},    // f89f064
		{"ssm-fcw", snp.ProfileQEMUInit2, true, "b1187625be0760978a6911cbeb452afbc4da5e11715e4f5bc8ffdc36ea06cac9"}, // 8f2b337
		{"init2", snp.ProfileQEMUInit2, false, "e3c999bed74cb3042e6b08d5a221cf3ecd2ca382534e7378747638481498ceba"},  // 8f2b337, x87_fcw fixed
	}
	m := newSVSMFixtureMeasurer(t, svsmVarsSize)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := snp.SVSMConfig{VCPUs: 2, VCPUSig: epycV4, Profile: tc.profile, SevSnpMeasureFCW: tc.ssmFCW}
			v, err := m.VMSA(cfg)
			if err != nil {
				t.Fatal(err)
			}
			page := v.Marshal()
			if got := sha256.Sum256(page); hex.EncodeToString(got[:]) != tc.want {
				t.Errorf("sha256(VMSA(%+v)) = %x, want %s", cfg, got, tc.want)
			}
			one, err := m.SNP(snp.SVSMConfig{VCPUs: 1, VCPUSig: epycV4, Profile: tc.profile, SevSnpMeasureFCW: tc.ssmFCW})
			if err != nil {
				t.Fatal(err)
			}
			two, err := m.SNP(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := extendVMSA(one, page); got != two {
				t.Errorf("1-vCPU digest extended by the VMSA page = %s, want the 2-vCPU digest %s", got, two)
			}
		})
	}
}

// extendVMSA is one SNP_LAUNCH_UPDATE of a VMSA page, written from the
// SEV-SNP ABI's PAGE_INFO table independently of gctx.go.
func extendVMSA(ld snp.SNPDigest, page []byte) snp.SNPDigest {
	var pi [0x70]byte
	copy(pi[0:48], ld[:])
	h := sha512.Sum384(page)
	copy(pi[48:96], h[:])
	binary.LittleEndian.PutUint16(pi[96:], 0x70)
	pi[98] = byte(snp.PageVMSA)
	binary.LittleEndian.PutUint64(pi[104:], 0xFFFFFFFFF000)
	return sha512.Sum384(pi[:])
}

func TestSVSMErrors(t *testing.T) {
	fw := loadSVSMFixture(t, "svsm_ovmf.fd")
	svsm := loadSVSMFixture(t, "svsm.bin")
	noInfo, err := ovmf.Parse(ovmftest.AmdSev().MustBuild())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		svsm     *ovmf.Image
		varsSize uint64
		wantIs   error
	}{
		{"vars 0", svsm, 0, nil},
		{"vars unaligned", svsm, 540671, nil},
		{"vars too large", svsm, 1 << 40, nil},
		{"no room for svsm", svsm, fw.GPA() - 0x1000, nil},
		{"no SVSM_INFO", noInfo, svsmVarsSize, snp.ErrNoSVSMInfo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := snp.NewSVSMMeasurer(fw, tc.svsm, tc.varsSize)
			if err == nil {
				t.Fatalf("NewSVSMMeasurer(vars %#x) succeeded, want an error", tc.varsSize)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("NewSVSMMeasurer: %v, want %v", err, tc.wantIs)
			}
		})
	}
	m, err := snp.NewSVSMMeasurer(fw, svsm, svsmVarsSize)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		cfg    snp.SVSMConfig
		wantIs error
	}{
		{"0 vCPUs", snp.SVSMConfig{VCPUs: 0}, nil},
		{"ec2 profile", snp.SVSMConfig{VCPUs: 1, Profile: snp.ProfileEC2RDX0}, snp.ErrProfile},
		{"fcw quirk with init", snp.SVSMConfig{VCPUs: 1, Profile: snp.ProfileQEMUInit, SevSnpMeasureFCW: true}, snp.ErrSVSMFCWQuirk},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.SNP(tc.cfg)
			if err == nil {
				t.Fatalf("SNP(%+v) succeeded, want an error", tc.cfg)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("SNP(%+v): %v, want %v", tc.cfg, err, tc.wantIs)
			}
		})
	}
}

// FuzzSVSM measures any SVSM binary Parse accepts, under both profiles,
// without a panic.
func FuzzSVSM(f *testing.F) {
	b, err := os.ReadFile("testdata/svsm/svsm.bin")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b[len(b)-4096:], uint32(svsmVarsSize), uint8(2))
	small := ovmftest.AmdSev()
	small.Size = 4096
	f.Add(small.MustBuild(), uint32(0x1000), uint8(1))
	fwImg, err := ovmf.Parse(small.MustBuild())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, vars uint32, vcpus uint8) {
		if r := len(data) % ovmf.PageSize; r != 0 || len(data) == 0 {
			data = append(make([]byte, ovmf.PageSize-r), data...)
		}
		img, err := ovmf.Parse(data)
		if err != nil {
			return
		}
		m, err := snp.NewSVSMMeasurer(fwImg, img, uint64(vars))
		if err != nil {
			return
		}
		for _, p := range []snp.Profile{snp.ProfileQEMUInit, snp.ProfileQEMUInit2} {
			_, _ = m.SNP(snp.SVSMConfig{VCPUs: int(vcpus%8) + 1, VCPUSig: epycV4, Profile: p})
		}
	})
}
