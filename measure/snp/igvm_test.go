package snp_test

import (
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/measure-cc/measure/measure/snp"
	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/ovmf/igvm"
	"github.com/measure-cc/measure/ovmf/igvm/igvmtest"
)

// ovmfAsIGVM describes the SEV-SNP launch QEMU makes of an OVMF image as
// an IGVM file: each firmware page as page data, the SEV metadata
// sections as data-less, secrets and CPUID pages, then one VP context per
// vCPU at KVM's VMSA GPA with the VMSA pages given.
func ovmfAsIGVM(t *testing.T, img *ovmf.Image, vmsas [][]byte) []byte {
	t.Helper()
	recs := []igvmtest.Record{
		{Type: igvm.TypeSupportedPlatform, Body: igvm.SupportedPlatform{CompatibilityMask: 1, PlatformType: igvm.PlatformSEVSNP, PlatformVersion: 1}},
		{Type: igvm.TypeGuestPolicy, Body: igvm.GuestPolicy{Policy: 0x30000, CompatibilityMask: 1}},
	}
	data := img.Data()
	for off := 0; off < len(data); off += igvm.PageSize {
		recs = append(recs, igvmtest.Record{
			Type: igvm.TypePageData,
			Body: igvm.PageData{GPA: img.GPA() + uint64(off), CompatibilityMask: 1},
			Data: data[off : off+igvm.PageSize],
		})
	}
	md := img.SEVMetadata()
	if md == nil {
		t.Fatal("no SEV metadata")
	}
	for _, s := range md.Sections {
		var dt uint16
		switch s.Type {
		case ovmf.SectionSNPSecrets:
			dt = igvm.PageDataSecrets
		case ovmf.SectionCPUID:
			dt = igvm.PageDataCPUIDData
		case ovmf.SectionSNPSecMem, ovmf.SectionSVSMCAA, ovmf.SectionSNPKernelHashes:
			dt = igvm.PageDataNormal // no data: zero pages
		default:
			t.Fatalf("section type %d", s.Type)
		}
		for off := uint32(0); off < s.Size; off += igvm.PageSize {
			recs = append(recs, igvmtest.Record{Type: igvm.TypePageData, Body: igvm.PageData{GPA: uint64(s.GPA) + uint64(off), CompatibilityMask: 1, DataType: dt}})
		}
	}
	for i, v := range vmsas {
		recs = append(recs, igvmtest.Record{Type: igvm.TypeVPContext, Body: igvm.VPContext{GPA: 0xFFFFFFFFF000, CompatibilityMask: 1, VPIndex: uint16(i)}, Data: v})
	}
	return igvmtest.File{Records: recs}.Build()
}

// TestIGVMAgreesWithSevSnpMeasure: an IGVM file that carries exactly the
// pages QEMU adds for an OVMF launch measures, in igvmmeasure's
// --native-zero mode (data-less pages as ZERO pages, as QEMU adds OVMF's
// SNP_SEC_MEM), to the digest sev-snp-measure computes for that launch.
// The expected values are sev-snp-measure's (../shared/vectors/snp.tsv,
// rows snp-qemu-trixie-ovmf-v4-4, snp-qemu-bookworm-ovmf-v4-1,
// snp-qemu-bookworm-ovmf-milan-16): the IGVM walk (page order, page types,
// GPAs, VMSA pages at their directive's GPA) is checked against an
// independent implementation, though not the IGVM-only rules.
func TestIGVMAgreesWithSevSnpMeasure(t *testing.T) {
	for _, c := range []struct {
		fixture string
		vcpus   int
		cpu     string
		want    string
	}{
		{"trixie-OVMF.fd", 4, "EPYC-v4", "676826e902524799a067f7c43b3ab0101dce73a2506d41436dd2f8472fa208081f11f9e65ca5d2439785732a0bfd8339"},
		{"bookworm-OVMF.fd", 1, "EPYC-v4", "11570979c77a0adb515761a702527c8b9e11554e730552621d950988613a3a75c6ff1703f540bd22a9beede8fe7a97e3"},
		{"bookworm-OVMF.fd", 16, "EPYC-Milan", "6ba3cb184a787548e1346b49a9d1a77dd1a6a7a0e4530b7e4879f06dc03cbfc827ec5f10c9a37be9d2602fa63a31302d"},
	} {
		raw, err := os.ReadFile("../../testdata/fixtures/" + c.fixture)
		if err != nil {
			t.Fatal(err)
		}
		img, err := ovmf.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		cpu, err := snp.LookupCPUType(c.cpu)
		if err != nil {
			t.Fatal(err)
		}
		vmsas, err := snp.NewMeasurer(img, nil, nil).SNPVMSAs(snp.Config{VCPUs: c.vcpus, VCPUSig: cpu.Signature(), GuestFeatures: 1})
		if err != nil {
			t.Fatal(err)
		}
		f, err := igvm.Parse(ovmfAsIGVM(t, img, vmsas))
		if err != nil {
			t.Fatal(err)
		}
		d, err := snp.MeasureIGVM(f, snp.IGVMOptions{NativeZero: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(d.Digest[:]); got != c.want {
			t.Errorf("%s, %d x %s as IGVM: %s, sev-snp-measure %s", c.fixture, c.vcpus, c.cpu, got, c.want)
		}
		if d.Pages[snp.PageVMSA] != c.vcpus || d.Pages[snp.PageNormal] != len(raw)/4096 {
			t.Errorf("%s: pages %v", c.fixture, d.Pages)
		}
		// Without --native-zero the data-less pages are NORMAL pages of
		// zeros, as QEMU's IGVM loader adds them: another digest.
		q, err := snp.MeasureIGVM(f, snp.IGVMOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if q.Digest == d.Digest || q.Pages[snp.PageZero] != 0 || q.Pages[snp.PageNormal] != d.Pages[snp.PageNormal]+d.Pages[snp.PageZero] {
			t.Errorf("%s default mode: %x, pages %v", c.fixture, q.Digest, q.Pages)
		}
	}
}

// pageInfo is PAGE_INFO as the SEV-SNP firmware ABI (section 8.17.2)
// lays it out, written here from the specification.
func pageInfo(ld [48]byte, contents [48]byte, pageType byte, gpa uint64) [48]byte {
	b := make([]byte, 0x70)
	copy(b, ld[:])
	copy(b[0x30:], contents[:])
	binary.LittleEndian.PutUint16(b[0x60:], 0x70)
	b[0x62] = pageType
	binary.LittleEndian.PutUint64(b[0x68:], gpa)
	return sha512.Sum384(b)
}

// TestIGVMRules: the IGVM-only rules, one directive each, against PAGE_INFO
// chains written from the ABI and igvmmeasure's rules (research notes 5.2).
func TestIGVMRules(t *testing.T) {
	var zero [48]byte
	zeroPage := sha512.Sum384(make([]byte, 4096))
	data := igvmtest.Page(0xaa)
	dataSum := sha512.Sum384(data)
	vmsa := make([]byte, 4096)
	vmsa[0x10] = 0x9b // some field of the VMSA
	vmsaSum := sha512.Sum384(vmsa)

	platforms := []igvmtest.Record{
		{Type: igvm.TypeSupportedPlatform, Body: igvm.SupportedPlatform{CompatibilityMask: 2, PlatformType: igvm.PlatformTDX, PlatformVersion: 1}},
		{Type: igvm.TypeSupportedPlatform, Body: igvm.SupportedPlatform{CompatibilityMask: 1, PlatformType: igvm.PlatformSEVSNP, PlatformVersion: 1}},
	}
	directives := []igvmtest.Record{
		{Type: igvm.TypeParameterArea, Body: igvm.ParameterArea{NumberOfBytes: 0x3000, ParameterAreaIndex: 0}},
		{Type: igvm.TypeMemoryMap, Body: igvm.Parameter{ParameterAreaIndex: 0}},
		{Type: igvm.TypePageData, Body: igvm.PageData{GPA: 0x1000, CompatibilityMask: 1}, Data: data},
		{Type: igvm.TypePageData, Body: igvm.PageData{GPA: 0x2000, CompatibilityMask: 2}, Data: data}, // TDX only: skipped
		{Type: igvm.TypePageData, Body: igvm.PageData{GPA: 0x3000, CompatibilityMask: 3, Flags: igvm.PageFlagShared}},
		{Type: igvm.TypePageData, Body: igvm.PageData{GPA: 0x4000, CompatibilityMask: 1, Flags: igvm.PageFlagUnmeasured}, Data: data},
		{Type: igvm.TypePageData, Body: igvm.PageData{GPA: 0x5000, CompatibilityMask: 1, DataType: igvm.PageDataSecrets}},
		{Type: igvm.TypePageData, Body: igvm.PageData{GPA: 0x6000, CompatibilityMask: 1, DataType: igvm.PageDataCPUIDXF}},
		{Type: igvm.TypePageData, Body: igvm.PageData{GPA: 0x200000, CompatibilityMask: 1, Flags: igvm.PageFlag2MB}},
		{Type: igvm.TypeParameterInsert, Body: igvm.ParameterInsert{GPA: 0x8000, CompatibilityMask: 1, ParameterAreaIndex: 0}},
		{Type: igvm.TypeRequiredMemory, Body: igvm.RequiredMemory{GPA: 0x100000, CompatibilityMask: 1, NumberOfBytes: 0x10000}},
		{Type: igvm.TypeVPContext, Body: igvm.VPContext{GPA: 0xFFFFFFFFF000, CompatibilityMask: 2}, Data: igvmtest.Page(0)}, // TDX context
		{Type: igvm.TypeVPContext, Body: igvm.VPContext{GPA: 0x9000, CompatibilityMask: 1}, Data: vmsa},
	}
	f, err := igvm.Parse(igvmtest.File{Records: append(platforms, directives...)}.Build())
	if err != nil {
		t.Fatal(err)
	}
	for _, nativeZero := range []bool{false, true} {
		var ld [48]byte
		ld = pageInfo(ld, dataSum, 1, 0x1000)
		if nativeZero {
			ld = pageInfo(ld, zero, 3, 0x3000) // shared is not looked at
		} else {
			ld = pageInfo(ld, zeroPage, 1, 0x3000)
		}
		ld = pageInfo(ld, zero, 4, 0x4000)
		ld = pageInfo(ld, zero, 5, 0x5000)
		ld = pageInfo(ld, zero, 6, 0x6000)
		for i := uint64(0); i < 512; i++ {
			if nativeZero {
				ld = pageInfo(ld, zero, 3, 0x200000+i*4096)
			} else {
				ld = pageInfo(ld, zeroPage, 1, 0x200000+i*4096)
			}
		}
		ld = pageInfo(ld, zero, 4, 0x8000) // one page of a 3-page area
		ld = pageInfo(ld, vmsaSum, 2, 0x9000)
		d, err := snp.MeasureIGVM(f, snp.IGVMOptions{NativeZero: nativeZero})
		if err != nil {
			t.Fatal(err)
		}
		if d.Digest != snp.SNPDigest(ld) || d.Mask != 1 {
			t.Errorf("native zero %v: %x (mask %d), want %x", nativeZero, d.Digest, d.Mask, ld)
		}
	}

	t.Run("refused", func(t *testing.T) {
		for name, recs := range map[string][]igvmtest.Record{
			"no SEV-SNP platform":  {platforms[0]},
			"2 MiB page with data": append(platforms[1:], igvmtest.Record{Type: igvm.TypePageData, Body: igvm.PageData{GPA: 0x200000, CompatibilityMask: 1, Flags: igvm.PageFlag2MB}, Data: data}),
			"two ID blocks": append(platforms[1:],
				igvmtest.Record{Type: igvm.TypeSNPIDBlock, Body: igvm.SNPIDBlock{CompatibilityMask: 1}},
				igvmtest.Record{Type: igvm.TypeSNPIDBlock, Body: igvm.SNPIDBlock{CompatibilityMask: 1}}),
		} {
			f, err := igvm.Parse(igvmtest.File{Records: recs}.Build())
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if _, err := snp.MeasureIGVM(f, snp.IGVMOptions{}); err == nil {
				t.Errorf("%s: measured", name)
			} else if !errors.Is(err, snp.ErrIGVM) && !errors.Is(err, igvm.ErrMalformed) {
				t.Errorf("%s: %v", name, err)
			}
		}
	})

	t.Run("ID block", func(t *testing.T) {
		ld := [48]byte{7}
		f, err := igvm.Parse(igvmtest.File{Records: append(platforms[1:], igvmtest.Record{Type: igvm.TypeSNPIDBlock, Body: igvm.SNPIDBlock{CompatibilityMask: 1, LD: ld}})}.Build())
		if err != nil {
			t.Fatal(err)
		}
		d, err := snp.MeasureIGVM(f, snp.IGVMOptions{})
		if err != nil || d.IDBlockLD == nil || *d.IDBlockLD != snp.SNPDigest(ld) {
			t.Errorf("ID block LD: %v, %v", d, err)
		}
	})
}

// TestIGVMPageBound: a file of data-less 2 MiB page directives asks for
// 512 PAGE_INFO updates per 32 bytes of file; past MaxIGVMPages (16 GiB)
// it is refused before any page is hashed, instead of hashing for hours.
func TestIGVMPageBound(t *testing.T) {
	recs := []igvmtest.Record{{Type: igvm.TypeSupportedPlatform, Body: igvm.SupportedPlatform{CompatibilityMask: 1, PlatformType: igvm.PlatformSEVSNP, PlatformVersion: 1}}}
	n := snp.MaxIGVMPages/512 + 1
	for i := range n {
		recs = append(recs, igvmtest.Record{Type: igvm.TypePageData, Body: igvm.PageData{GPA: uint64(i) << 21, CompatibilityMask: 1, Flags: igvm.PageFlag2MB}})
	}
	f, err := igvm.Parse(igvmtest.File{Records: recs}.Build())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = snp.MeasureIGVM(f, snp.IGVMOptions{NativeZero: true})
	if !errors.Is(err, snp.ErrIGVM) || !strings.Contains(err.Error(), "16 GiB") || time.Since(start) > 5*time.Second {
		t.Errorf("%d directives of 2 MiB: %v, want ErrIGVM naming the bound", n, err)
	}
	t.Logf("%d pages asked for, refused in %v", n*512, time.Since(start))
}
