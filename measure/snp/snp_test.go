package snp_test

import (
	"encoding/hex"
	"errors"
	"math/rand"
	"os"
	"strings"
	"testing"

	"github.com/measure-cc/measure/measure/snp"
	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/ovmf/ovmftest"
)

func TestCPUSignature(t *testing.T) {
	// Values of CPUID Fn0000_0001 EAX worked out from AMD's encoding; the
	// first two are sev-snp-measure's own test values.
	tests := []struct {
		family, model, stepping uint32
		want                    uint32
	}{
		{14, 1, 2, 0x0e12},
		{23, 1, 2, 0x800f12},
		{23, 49, 0, 0x830f10},
		{25, 1, 1, 0xa00f11},
		{25, 17, 0, 0xa10f10},
		{26, 0, 0, 0xb00f00},
		{0xf, 0xff, 0xf, 0x000f0fff},
	}
	for _, tc := range tests {
		if got := snp.CPUSignature(tc.family, tc.model, tc.stepping); got != tc.want {
			t.Errorf("CPUSignature(%d, %d, %d) = %#x, want %#x", tc.family, tc.model, tc.stepping, got, tc.want)
		}
	}
}

func TestLookupCPUType(t *testing.T) {
	// Every model and version QEMU 10.1 registers (target/i386/cpu.c).
	want := map[string]uint32{
		"EPYC": 0x800f12, "EPYC-v1": 0x800f12, "EPYC-v2": 0x800f12, "EPYC-IBPB": 0x800f12,
		"EPYC-v3": 0x800f12, "EPYC-v4": 0x800f12, "EPYC-v5": 0x800f12,
		"EPYC-Rome": 0x830f10, "EPYC-Rome-v1": 0x830f10, "EPYC-Rome-v2": 0x830f10, "EPYC-Rome-v3": 0x830f10,
		"EPYC-Rome-v4": 0x830f10, "EPYC-Rome-v5": 0x830f10,
		"EPYC-Milan": 0xa00f11, "EPYC-Milan-v1": 0xa00f11, "EPYC-Milan-v2": 0xa00f11, "EPYC-Milan-v3": 0xa00f11,
		"EPYC-Genoa": 0xa10f10, "EPYC-Genoa-v1": 0xa10f10, "EPYC-Genoa-v2": 0xa10f10,
		"EPYC-Turin": 0xb00f00, "EPYC-Turin-v1": 0xb00f00,
	}
	for name, sig := range want {
		for _, spelling := range []string{name, strings.ToLower(name), strings.ToUpper(name)} {
			c, err := snp.LookupCPUType(spelling)
			if err != nil {
				t.Errorf("LookupCPUType(%q): %v", spelling, err)
				continue
			}
			if c.Signature() != sig || c.Name != name {
				t.Errorf("LookupCPUType(%q) = %s %#x, want %s %#x", spelling, c.Name, c.Signature(), name, sig)
			}
		}
	}
	if got := len(snp.CPUTypes()); got != len(want) {
		t.Errorf("CPUTypes() has %d entries, want %d", got, len(want))
	}
	for _, bad := range []string{"", "EPYC-Zen9", "EPYC-v6", "EPYC-Turin-v2", "Opteron_G5"} {
		if _, err := snp.LookupCPUType(bad); err == nil {
			t.Errorf("LookupCPUType(%q) succeeded, want an error", bad)
		}
	}
}

func TestParseVMMType(t *testing.T) {
	for in, want := range map[string]snp.VMMType{"qemu": snp.VMMQEMU, "QEMU": snp.VMMQEMU, "ec2": snp.VMMEC2, "EC2": snp.VMMEC2, "gce": snp.VMMGCE, "Gce": snp.VMMGCE} {
		if got, err := snp.ParseVMMType(in); err != nil || got != want {
			t.Errorf("ParseVMMType(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
	if _, err := snp.ParseVMMType("kvm"); err == nil {
		t.Error(`ParseVMMType("kvm") succeeded`)
	}
}

func TestNewKernelHashes(t *testing.T) {
	kh, err := snp.NewKernelHashes(strings.NewReader("kernel"), nil, "")
	if err != nil {
		t.Fatal(err)
	}
	// sha256 of no bytes, and of a single NUL (QEMU's empty command line).
	if got, want := hex.EncodeToString(kh.Initrd[:]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; got != want {
		t.Errorf("initrd digest = %s, want %s", got, want)
	}
	if got, want := hex.EncodeToString(kh.Cmdline[:]), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"; got != want {
		t.Errorf("cmdline digest = %s, want %s", got, want)
	}
}

func loadImage(t testing.TB, name string) *ovmf.Image {
	t.Helper()
	b, err := os.ReadFile("../../testdata/fixtures/" + name)
	if err != nil {
		t.Fatal(err)
	}
	img, err := ovmf.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func synthetic(t testing.TB, spec ovmftest.Image) *ovmf.Image {
	t.Helper()
	img, err := ovmf.Parse(spec.MustBuild())
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestMeasurerSharing checks that a Measurer reused across configurations in
// any order gives what a fresh Measurer gives for each one: the prefix and
// chain caches change nothing.
func TestMeasurerSharing(t *testing.T) {
	kh, _ := snp.NewKernelHashes(strings.NewReader("k"), strings.NewReader("i"), "console=ttyS0")
	for _, tc := range []struct {
		name   string
		img    *ovmf.Image
		kernel *snp.KernelHashes
	}{
		{"trixie", loadImage(t, "trixie-OVMF.fd"), nil},
		{"amdsev-kernel", synthetic(t, ovmftest.AmdSev()), kh},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfgs []snp.Config
			for _, vmm := range snp.VMMTypes {
				for _, sig := range []uint32{0x800f12, 0xa10f10} {
					for _, n := range []int{1, 2, 5, 9} {
						for _, gf := range []uint64{1, 0x21} {
							cfgs = append(cfgs, snp.Config{VCPUs: n, VCPUSig: sig, VMM: vmm, GuestFeatures: gf})
						}
					}
				}
			}
			rand.New(rand.NewSource(1)).Shuffle(len(cfgs), func(i, j int) { cfgs[i], cfgs[j] = cfgs[j], cfgs[i] })
			shared := snp.NewMeasurer(tc.img, tc.kernel, nil)
			for _, c := range cfgs {
				got, err := shared.SNP(c)
				if err != nil {
					t.Fatal(err)
				}
				want, err := snp.NewMeasurer(tc.img, tc.kernel, nil).SNP(c)
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("SNP(%+v) shared = %s, fresh = %s", c, got, want)
				}
				gotES, err := shared.SEVES(c)
				if err != nil {
					t.Fatal(err)
				}
				wantES, _ := snp.NewMeasurer(tc.img, tc.kernel, nil).SEVES(c)
				if gotES != wantES {
					t.Errorf("SEVES(%+v) shared = %s, fresh = %s", c, gotES, wantES)
				}
			}
		})
	}
}

// TestSeedEqualsFirmware: a seed equal to FirmwareDigest gives the same digest.
func TestSeedEqualsFirmware(t *testing.T) {
	img := loadImage(t, "bookworm-OVMF.fd")
	seed := snp.FirmwareDigest(img)
	cfg := snp.Config{VCPUs: 3, VCPUSig: 0xa00f11, GuestFeatures: 1}
	a, err1 := snp.NewMeasurer(img, nil, nil).SNP(cfg)
	b, err2 := snp.NewMeasurer(img, nil, &seed).SNP(cfg)
	if err1 != nil || err2 != nil || a != b {
		t.Errorf("with seed %s, %v; without %s, %v", b, err2, a, err1)
	}
	other := seed
	other[0] ^= 1
	if c, _ := snp.NewMeasurer(img, nil, &other).SNP(cfg); c == a {
		t.Error("a different seed gave the same digest")
	}
}

func TestErrors(t *testing.T) {
	base := ovmftest.AmdSev()
	noMeta := base
	noMeta.SEV = nil
	noReset := base
	noReset.ResetEIP = nil
	zeroEIP := base
	zeroEIP.ResetEIP = ovmftest.Uint32(0)
	noHashes := base
	noHashes.SEV = append([]ovmf.SEVMetadataSection(nil), base.SEV[:5]...)
	tableBase0 := base
	tableBase0.HashTable = &ovmf.SEVHashTableDescriptor{Base: 0, Size: 0x400}
	tableAtPageEnd := base
	tableAtPageEnd.HashTable = &ovmf.SEVHashTableDescriptor{Base: 0x810f80, Size: 0x400}
	overlap := base
	overlap.SEV = append([]ovmf.SEVMetadataSection(nil), base.SEV...)
	overlap.SEV[1].GPA = 0x801000
	kh, _ := snp.NewKernelHashes(strings.NewReader("k"), nil, "")
	cfg := snp.Config{VCPUs: 2, VCPUSig: 0x800f12, GuestFeatures: 1}

	tests := []struct {
		name    string
		spec    ovmftest.Image
		kernel  *snp.KernelHashes
		cfg     snp.Config
		wantIs  error
		wantErr string
	}{
		{"no metadata", noMeta, nil, cfg, snp.ErrNoSEVMetadata, ""},
		{"no reset block", noReset, nil, cfg, snp.ErrNoResetBlock, ""},
		{"AP reset address 0", zeroEIP, nil, cfg, nil, "AP reset address 0"},
		{"kernel without section", noHashes, kh, cfg, snp.ErrNoKernelHashes, ""},
		{"table base 0", tableBase0, kh, cfg, nil, "base 0x0"},
		{"table past its page", tableAtPageEnd, kh, cfg, nil, "too small for the hashes table"},
		{"overlapping sections", overlap, nil, cfg, nil, "overlap"},
		{"0 vCPUs", base, nil, snp.Config{VCPUs: 0}, nil, "vCPU count 0"},
		{"too many vCPUs", base, nil, snp.Config{VCPUs: snp.MaxVCPUs + 1}, nil, "vCPU count"},
		{"unknown VMM", base, nil, snp.Config{VCPUs: 1, VMM: 7}, nil, "VMM type 7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := snp.NewMeasurer(synthetic(t, tc.spec), tc.kernel, nil).SNP(tc.cfg)
			if err == nil {
				t.Fatal("SNP() succeeded, want an error")
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("SNP() = %v, want %v", err, tc.wantIs)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("SNP() = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
	// One vCPU never needs the AP reset address.
	if _, err := snp.NewMeasurer(synthetic(t, zeroEIP), nil, nil).SNP(snp.Config{VCPUs: 1, VCPUSig: 1}); err != nil {
		t.Errorf("SNP(1 vCPU, AP reset address 0) = %v, want success", err)
	}
	// SEV-ES needs no SEV metadata.
	if _, err := snp.NewMeasurer(synthetic(t, noMeta), nil, nil).SEVES(cfg); err != nil {
		t.Errorf("SEVES(no metadata) = %v, want success", err)
	}
	if _, err := snp.NewMeasurer(synthetic(t, tableBase0), kh, nil).SEV(); err == nil {
		t.Error("SEV(kernel, table base 0) succeeded, want an error")
	}
}
