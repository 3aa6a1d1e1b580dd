package snp_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/measure-cc/measure/measure/snp"
	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/ovmf/ovmftest"
)

const profileVectorsDir = "testdata/profiles"

// profileFixtures are the firmware suffixes of virtee/sev-snp-measure's
// tests (testdata/profiles/README.md), with the sha256 the research
// recorded for each blob.
var profileFixtures = map[string]string{
	"ovmf_suffix-cc6d7ca.bin":         "b184e06e012366fd7b33ebfb361a515d05f00d354dca07b36abbc1e1e177ced5",
	"ovmf_AmdSev_suffix-4ecfc95.bin":  "ddadd162c1fef131beba0c0dc1e7870f630aa3c0a6e96b998fc562fe32069c66",
	"ovmf_OvmfX64_suffix-43a5698.bin": "af9d6c674b1ff04937084c98c99ca106b25c37b2c9541ac313e6e0c54426314f",
	"ovmf_AmdSev_suffix-0095249.bin":  "8f765dfabc127fc0a938a0744a3103ec15864d7d794eb4c398aa976b6d6ab16c",
	"ovmf_OvmfX64_suffix-ea76d28.bin": "b4c021e085fb83ceffe6571a3d357b4a98773c83c474e47f76c876708fe316da",
}

// profileVector is one row of testdata/profiles/vectors.tsv.
type profileVector struct {
	id, platform string
	profile      snp.Profile
	firmware     string
	cfg          snp.Config
	devNullBoot  bool
	append       string
	seed         string
	expected     string
}

func readProfileVectors(t *testing.T) []profileVector {
	t.Helper()
	f, err := os.Open(filepath.Join(profileVectorsDir, "vectors.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const header = "id\tplatform\tprofile\tfirmware\tvcpus\tvcpu_sig\tguest_features\tboot\tappend\tseed\texpected\tsource\tnote"
	var out []profileVector
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if line == 1 {
			if sc.Text() != header {
				t.Fatalf("vectors.tsv header = %q, want %q", sc.Text(), header)
			}
			continue
		}
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 13 {
			t.Fatalf("vectors.tsv line %d: %d columns, want 13", line, len(c))
		}
		vcpus, err1 := strconv.Atoi(c[4])
		sig, err2 := strconv.ParseUint(c[5], 0, 32)
		var gf uint64
		var err3 error
		if c[6] != "-" {
			gf, err3 = strconv.ParseUint(c[6], 0, 64)
		}
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatalf("vectors.tsv line %d: %v", line, err)
		}
		vmm := snp.VMMType(-1)
		for _, p := range snp.Profiles() {
			if string(p.Name) == c[2] {
				vmm = p.VMM
			}
		}
		out = append(out, profileVector{
			id: c[0], platform: c[1], profile: snp.Profile(c[2]), firmware: c[3],
			cfg:         snp.Config{VCPUs: vcpus, VCPUSig: uint32(sig), VMM: vmm, GuestFeatures: gf, Profile: snp.Profile(c[2])},
			devNullBoot: c[7] == "devnull", append: c[8], seed: c[9], expected: c[10],
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func loadProfileFixture(t *testing.T, name string) *ovmf.Image {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(profileVectorsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sha256.Sum256(b), profileFixtures[name]; hex.EncodeToString(got[:]) != want {
		t.Fatalf("%s: sha256 %x, want %s", name, got, want)
	}
	img, err := ovmf.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// measureVector computes the row's digest with cfg (its own, or another
// profile's).
func measureVector(t *testing.T, v profileVector, cfg snp.Config) (string, error) {
	t.Helper()
	img := loadProfileFixture(t, v.firmware)
	var kh *snp.KernelHashes
	if v.devNullBoot {
		var err error
		if kh, err = snp.NewKernelHashes(strings.NewReader(""), nil, v.append); err != nil {
			t.Fatal(err)
		}
	}
	var seed *snp.SNPDigest
	if v.seed != "-" {
		d, err := snp.ParseSNPDigest(v.seed)
		if err != nil {
			t.Fatal(err)
		}
		seed = &d
	}
	m := snp.NewMeasurer(img, kh, seed)
	if v.platform == "seves" {
		d, err := m.SEVES(cfg)
		return d.String(), err
	}
	d, err := m.SNP(cfg)
	return d.String(), err
}

// TestProfileVectors runs every known answer of testdata/profiles: each
// reproduces with the profile of its period, and with no other profile of
// its VMM.
func TestProfileVectors(t *testing.T) {
	vectors := readProfileVectors(t)
	covered := map[snp.Profile]int{}
	for _, v := range vectors {
		t.Run(v.id, func(t *testing.T) {
			got, err := measureVector(t, v, v.cfg)
			if err != nil {
				t.Fatalf("%s %+v: %v", v.platform, v.cfg, err)
			}
			if got != v.expected {
				t.Fatalf("%s %+v = %s, want %s", v.platform, v.cfg, got, v.expected)
			}
			covered[v.profile]++
			for _, other := range snp.Profiles() {
				if other.VMM != v.cfg.VMM || other.Name == v.profile {
					continue
				}
				cfg := v.cfg
				cfg.Profile = other.Name
				if d, err := measureVector(t, v, cfg); err != nil || d == v.expected {
					t.Errorf("%s with profile %s = %s, %v: want another digest", v.platform, other.Name, d, err)
				}
			}
		})
	}
	t.Logf("%d known answers: %v", len(vectors), covered)
	for _, p := range snp.Profiles() {
		if covered[p.Name] == 0 {
			t.Errorf("profile %s: no known answer in %s/vectors.tsv reproduces", p.Name, profileVectorsDir)
		}
	}
}

// TestDefaultProfileIsEmpty: a Config without a profile measures exactly
// what one naming the VMM's default profile does.
func TestDefaultProfileIsEmpty(t *testing.T) {
	img := loadProfileFixture(t, "ovmf_AmdSev_suffix-0095249.bin")
	for _, vmm := range snp.VMMTypes {
		def := snp.DefaultProfile(vmm)
		if def == "" {
			t.Fatalf("DefaultProfile(%s) = \"\"", vmm)
		}
		for _, n := range []int{1, 3} {
			cfg := snp.Config{VCPUs: n, VCPUSig: 0xa00f11, VMM: vmm, GuestFeatures: 1}
			named := cfg
			named.Profile = def
			a, err1 := snp.NewMeasurer(img, nil, nil).SNP(cfg)
			b, err2 := snp.NewMeasurer(img, nil, nil).SNP(named)
			if err1 != nil || err2 != nil || a != b {
				t.Errorf("SNP(%s, %d vCPUs): no profile %s, %v; %s %s, %v", vmm, n, a, err1, def, b, err2)
			}
			c, err1 := snp.NewMeasurer(img, nil, nil).SEVES(cfg)
			d, err2 := snp.NewMeasurer(img, nil, nil).SEVES(named)
			if err1 != nil || err2 != nil || c != d {
				t.Errorf("SEVES(%s, %d vCPUs): no profile %s, %v; %s %s, %v", vmm, n, c, err1, def, d, err2)
			}
		}
	}
}

// TestProfileSharing: one Measurer switching between profiles gives what a
// fresh one gives (the prefix, chain and VMSA caches are keyed by profile).
func TestProfileSharing(t *testing.T) {
	img := loadProfileFixture(t, "ovmf_AmdSev_suffix-0095249.bin")
	shared := snp.NewMeasurer(img, nil, nil)
	for round := 0; round < 2; round++ {
		for _, p := range snp.Profiles() {
			for _, n := range []int{4, 2} {
				cfg := snp.Config{VCPUs: n, VCPUSig: 0x800f12, VMM: p.VMM, GuestFeatures: 1, Profile: p.Name}
				got, err1 := shared.SNP(cfg)
				want, err2 := snp.NewMeasurer(img, nil, nil).SNP(cfg)
				if err1 != nil || err2 != nil || got != want {
					t.Errorf("SNP(%+v) shared = %s, %v; fresh = %s, %v", cfg, got, err1, want, err2)
				}
				gotES, err1 := shared.SEVES(cfg)
				wantES, err2 := snp.NewMeasurer(img, nil, nil).SEVES(cfg)
				if err1 != nil || err2 != nil || gotES != wantES {
					t.Errorf("SEVES(%+v) shared = %s, %v; fresh = %s, %v", cfg, gotES, err1, wantES, err2)
				}
			}
		}
	}
}

func TestProfileErrors(t *testing.T) {
	img := loadProfileFixture(t, "ovmf_AmdSev_suffix-0095249.bin")
	tests := []struct {
		name    string
		cfg     snp.Config
		wantErr string
	}{
		{"ec2 profile on qemu", snp.Config{VCPUs: 1, VMM: snp.VMMQEMU, Profile: snp.ProfileEC2RDX0}, `profile "ec2-rdx-0" is a ec2 profile, not qemu`},
		{"qemu profile on gce", snp.Config{VCPUs: 1, VMM: snp.VMMGCE, Profile: snp.ProfileQEMUInit}, `profile "qemu-kvm-sev-init" is a qemu profile, not gce`},
		{"gce profile on ec2", snp.Config{VCPUs: 1, VMM: snp.VMMEC2, Profile: snp.ProfileGCE}, `profile "gce" is a gce profile, not ec2`},
		{"unknown profile", snp.Config{VCPUs: 1, VMM: snp.VMMQEMU, Profile: "qemu-kvm-sev-init3"}, `profile "qemu-kvm-sev-init3" is unknown`},
		{"wrong case", snp.Config{VCPUs: 1, VMM: snp.VMMQEMU, Profile: "QEMU-KVM-SEV-INIT"}, `is unknown`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errSNP := snp.NewMeasurer(img, nil, nil).SNP(tc.cfg)
			_, errES := snp.NewMeasurer(img, nil, nil).SEVES(tc.cfg)
			for _, err := range []error{errSNP, errES} {
				if !errors.Is(err, snp.ErrProfile) || !strings.Contains(fmtErr(err), tc.wantErr) {
					t.Errorf("error = %v, want ErrProfile containing %q", err, tc.wantErr)
				}
			}
		})
	}
	// A usage error comes before anything the image lacks.
	noMeta := ovmftest.AmdSev()
	noMeta.SEV = nil
	if _, err := snp.NewMeasurer(synthetic(t, noMeta), nil, nil).SNP(tests[0].cfg); !errors.Is(err, snp.ErrProfile) {
		t.Errorf("SNP(wrong profile, image without metadata) = %v, want ErrProfile", err)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestProfileTable(t *testing.T) {
	profiles := snp.Profiles()
	seen := map[snp.Profile]bool{}
	defaults := map[snp.VMMType]int{}
	for _, p := range profiles {
		if seen[p.Name] {
			t.Errorf("profile %s listed twice", p.Name)
		}
		seen[p.Name] = true
		if p.Default {
			defaults[p.VMM]++
		}
		if p.Differs == "" || p.Source == "" || p.KnownAnswers == "" || (p.From == "" && p.Until == "" && !p.Default) {
			t.Errorf("profile %s: documentation incomplete: %+v", p.Name, p)
		}
		got, err := snp.ParseProfile(strings.ToUpper(string(p.Name)))
		if err != nil || got != p.Name {
			t.Errorf("ParseProfile(%q) = %q, %v", strings.ToUpper(string(p.Name)), got, err)
		}
		info, err := snp.LookupProfile(p.VMM, p.Name)
		if err != nil || info.Name != p.Name {
			t.Errorf("LookupProfile(%s, %s) = %s, %v", p.VMM, p.Name, info.Name, err)
		}
	}
	for _, vmm := range snp.VMMTypes {
		if defaults[vmm] != 1 {
			t.Errorf("VMM %s has %d default profiles, want 1", vmm, defaults[vmm])
		}
	}
	if _, err := snp.ParseProfile("kvm"); !errors.Is(err, snp.ErrProfile) {
		t.Errorf(`ParseProfile("kvm") = %v, want ErrProfile`, err)
	}
	// Profiles returns a copy.
	profiles[0].Name = "changed"
	if snp.Profiles()[0].Name == "changed" {
		t.Error("Profiles() shares its table with the caller")
	}
}
