//go:build !measure_front

package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/measure-cc/measure/measure"
	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/ovmf/igvm"
	"github.com/measure-cc/measure/ovmf/igvm/igvmtest"
)

// TestIGVMMeasure: igvm measure of an IGVM file that carries the pages
// QEMU adds for trixie's OVMF with 4 EPYC-v4 vCPUs prints, with
// --native-zero, the digest sev-snp-measure computes for that launch
// (../shared/vectors/snp.tsv, snp-qemu-trixie-ovmf-v4-4); an ID block
// that promises another digest is a negative answer.
func TestIGVMMeasure(t *testing.T) {
	const want = "676826e902524799a067f7c43b3ab0101dce73a2506d41436dd2f8472fa208081f11f9e65ca5d2439785732a0bfd8339"
	raw, err := os.ReadFile(trixie)
	if err != nil {
		t.Fatal(err)
	}
	img, err := ovmf.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	cpu, err := measure.LookupCPU("EPYC-v4")
	if err != nil {
		t.Fatal(err)
	}
	vmsas, err := mustMeasurer(t, img).VMSAs(measure.SNP{VMM: measure.VMMQEMU, VCPUs: 4, CPU: cpu, GuestFeatures: 1})
	if err != nil {
		t.Fatal(err)
	}
	recs := []igvmtest.Record{{Type: igvm.TypeSupportedPlatform, Body: igvm.SupportedPlatform{CompatibilityMask: 1, PlatformType: igvm.PlatformSEVSNP, PlatformVersion: 1}}}
	for off := 0; off < len(raw); off += 4096 {
		recs = append(recs, igvmtest.Record{Type: igvm.TypePageData, Body: igvm.PageData{GPA: img.GPA() + uint64(off), CompatibilityMask: 1}, Data: raw[off : off+4096]})
	}
	for _, s := range img.SEVMetadata().Sections {
		dt := map[ovmf.SectionType]uint16{ovmf.SectionSNPSecrets: igvm.PageDataSecrets, ovmf.SectionCPUID: igvm.PageDataCPUIDData}[s.Type]
		for off := uint32(0); off < s.Size; off += 4096 {
			recs = append(recs, igvmtest.Record{Type: igvm.TypePageData, Body: igvm.PageData{GPA: uint64(s.GPA) + uint64(off), CompatibilityMask: 1, DataType: dt}})
		}
	}
	for i, v := range vmsas {
		recs = append(recs, igvmtest.Record{Type: igvm.TypeVPContext, Body: igvm.VPContext{GPA: 0xFFFFFFFFF000, CompatibilityMask: 1, VPIndex: uint16(i)}, Data: v})
	}
	dir := t.TempDir()
	path := writeIn(t, dir, "ovmf.igvm", igvmtest.File{Records: recs}.Build())
	stdout, stderr, code := runCLI("igvm", "measure", path, "--native-zero")
	if code != 0 || stdout != want+"\n" {
		t.Fatalf("igvm measure --native-zero: exit %d, %q %s; want %s", code, stdout, stderr, want)
	}
	stdout, _, code = runCLI("igvm", "measure", path, "--output", "json")
	var rec igvmMeasurement
	if err := json.Unmarshal([]byte(stdout), &rec); err != nil || code != 0 {
		t.Fatalf("json: exit %d, %v: %s", code, err, stdout)
	}
	if rec.Measurement == want || rec.NativeZero || rec.Pages["vmsa"] != 4 || rec.Pages["zero"] != 0 || rec.Pages["normal"] < 1024 || rec.Platform != "sev-snp" {
		t.Errorf("QEMU mode record %+v: want another digest, 4 VMSAs and no ZERO pages", rec)
	}

	// An ID block promising the --native-zero digest: the default mode
	// measures another one, a negative answer with nothing on stdout.
	var ld [48]byte
	for i := range ld {
		ld[i] = byte(strings.Index("0123456789abcdef", want[2*i:2*i+1])<<4 | strings.Index("0123456789abcdef", want[2*i+1:2*i+2]))
	}
	recs = append(recs, igvmtest.Record{Type: igvm.TypeSNPIDBlock, Body: igvm.SNPIDBlock{CompatibilityMask: 1, LD: ld}})
	path = writeIn(t, dir, "idblock.igvm", igvmtest.File{Records: recs}.Build())
	if stdout, _, code := runCLI("igvm", "measure", path, "--native-zero"); code != 0 || stdout != want+"\n" {
		t.Errorf("matching ID block: exit %d, %q", code, stdout)
	}
	stdout, stderr, code = runCLI("igvm", "measure", path)
	if code != exitNegative || stdout != "" || !strings.Contains(stderr, "ID block promises launch digest "+want) || strings.Count(stderr, "\n") != 1 {
		t.Errorf("differing ID block: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if stdout, _, code := runCLI("igvm", "measure", path, "--ignore-id-block"); code != 0 || stdout == "" || stdout == want+"\n" {
		t.Errorf("--ignore-id-block: exit %d, %q", code, stdout)
	}

	// No SEV-SNP platform: refused, one line, nothing on stdout.
	tdxOnly := igvmtest.File{Records: []igvmtest.Record{{Type: igvm.TypeSupportedPlatform, Body: igvm.SupportedPlatform{CompatibilityMask: 1, PlatformType: igvm.PlatformTDX, PlatformVersion: 1}}}}.Build()
	stdout, stderr, code = runCLI("igvm", "measure", writeIn(t, dir, "tdx.igvm", tdxOnly))
	if code == 0 || stdout != "" || !strings.Contains(stderr, "no SEV-SNP platform") {
		t.Errorf("TDX-only file: exit %d, %q, %q", code, stdout, stderr)
	}
}

func mustMeasurer(t *testing.T, img *ovmf.Image) *measure.Measurer {
	t.Helper()
	return measure.NewMeasurer(img, nil, measure.Options{})
}
