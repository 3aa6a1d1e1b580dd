package measure_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/measure-cc/measure/measure"
	"github.com/measure-cc/measure/ovmf"
)

// TestLaunchProfiles carries a profile from the facade's launches to the
// digest, against known answers of other implementations
// (snp/testdata/profiles/README.md): Kata Containers' legacy SEV-ES digests
// and virtee/sev-snp-measure's EC2 values before and after the RDX change.
func TestLaunchProfiles(t *testing.T) {
	read := func(name string) *ovmf.Image {
		t.Helper()
		b, err := os.ReadFile(filepath.Join("snp", "testdata", "profiles", name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := ovmf.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	devNull := &measure.Boot{Kernel: []byte{}}
	epyc := measure.CPU{Signature: 0x800f12}
	tests := []struct {
		name     string
		firmware string
		launch   measure.Launch
		want     string
	}{
		// kata-containers src/runtime/pkg/sev/sev_test.go@82a6ca36.
		{"kata sev-es 4 vCPUs", "ovmf_suffix-cc6d7ca.bin",
			measure.SEVES{VMM: measure.VMMQEMU, VCPUs: 4, CPU: epyc, Profile: measure.ProfileQEMUInit},
			"b2111b0051fc3a06ec216899b2c78da99fb9d56c6ff2e8261dd3fe6cff79ecbc"},
		// virtee/sev-snp-measure tests/test_guest.py@ae95e59 (test_seves).
		{"sev-es init2", "ovmf_AmdSev_suffix-4ecfc95.bin",
			measure.SEVES{VMM: measure.VMMQEMU, VCPUs: 1, CPU: epyc, Profile: measure.ProfileQEMUInit2},
			"c9c378be09902e3d5927a93b73ed383620eea5387e1d16416807cfc949b7f834"},
		// virtee/sev-snp-measure tests/test_guest.py@46664d0 and @4a02bf0.
		{"ec2 rdx 0", "ovmf_AmdSev_suffix-0095249.bin",
			measure.SNP{VMM: measure.VMMEC2, VCPUs: 1, CPU: epyc, GuestFeatures: 1, Profile: measure.ProfileEC2RDX0},
			"7d3756157c805bf6adf617064c8552e8c1688fa1c8756f11cbf56ba5d25c9270fb69c0505c1cbe1c5c66c0e34c6ed3be"},
		{"ec2 rdx 0x600", "ovmf_AmdSev_suffix-0095249.bin",
			measure.SNP{VMM: measure.VMMEC2, VCPUs: 1, CPU: epyc, GuestFeatures: 1, Profile: measure.ProfileEC2RDX600},
			"0883bd0eeb716e65b7b977a321c278d1e51b33b5c655fab985443bbcc65c086b9c15e8a0bd8811050dec7e24964e5056"},
		{"ec2 default", "ovmf_AmdSev_suffix-0095249.bin",
			measure.SNP{VMM: measure.VMMEC2, VCPUs: 1, CPU: epyc, GuestFeatures: 1},
			"0883bd0eeb716e65b7b977a321c278d1e51b33b5c655fab985443bbcc65c086b9c15e8a0bd8811050dec7e24964e5056"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := measure.Compute(read(tc.firmware), devNull, []measure.Launch{tc.launch}, measure.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := r[0].Values[0].String(); got != tc.want {
				t.Errorf("Measure(%s) = %s, want %s", tc.launch, got, tc.want)
			}
		})
	}
}

func TestLaunchProfileErrors(t *testing.T) {
	m := measure.NewMeasurer(loadImage(t, "trixie-OVMF.fd"), nil, measure.Options{})
	for _, l := range []measure.Launch{
		measure.SNP{VMM: measure.VMMQEMU, VCPUs: 1, GuestFeatures: 1, Profile: measure.ProfileGCE},
		measure.SEVES{VMM: measure.VMMGCE, VCPUs: 1, Profile: measure.ProfileEC2RDX600},
		measure.SNP{VMM: measure.VMMEC2, VCPUs: 1, Profile: "ec2-2019"},
	} {
		if _, err := m.Measure(l); !errors.Is(err, measure.ErrProfile) {
			t.Errorf("Measure(%s) = %v, want ErrProfile", l, err)
		}
	}
}

func TestLaunchProfileString(t *testing.T) {
	for _, tc := range []struct {
		l    measure.Launch
		want string
	}{
		{measure.SNP{VMM: measure.VMMEC2, VCPUs: 2, GuestFeatures: 1}, "sev-snp ec2, 2 vCPUs, guest features 0x1"},
		{measure.SNP{VMM: measure.VMMEC2, VCPUs: 2, GuestFeatures: 1, Profile: measure.ProfileEC2RDX0}, "sev-snp ec2, 2 vCPUs, guest features 0x1, profile ec2-rdx-0"},
		{measure.SEVES{VMM: measure.VMMQEMU, VCPUs: 1, CPU: measure.CPU{Signature: 0x800f12}, Profile: measure.ProfileQEMUInit}, "sev-es qemu, 1 vCPUs, vCPU signature 0x800f12, profile qemu-kvm-sev-init"},
	} {
		if got := tc.l.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
	var names []string
	for _, p := range measure.Profiles() {
		names = append(names, string(p.Name))
	}
	if got, want := strings.Join(names, " "), "qemu-kvm-sev-init2 qemu-kvm-sev-init ec2-rdx-0x600 ec2-rdx-0 gce"; got != want {
		t.Errorf("Profiles() = %s, want %s", got, want)
	}
	for _, vmm := range measure.VMMs() {
		if measure.DefaultProfile(vmm) == "" {
			t.Errorf("DefaultProfile(%s) is empty", vmm)
		}
	}
}
