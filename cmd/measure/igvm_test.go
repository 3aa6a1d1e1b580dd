//go:build !measure_front

package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/measure-cc/measure/ovmf/igvm/igvmtest"
)

func TestIGVMInspect(t *testing.T) {
	dir := t.TempDir()
	good := igvmtest.SNPFile().Build()
	path := writeIn(t, dir, "snp.igvm", good)
	stdout, stderr, code := runCLI("igvm", "inspect", path, "--output", "json")
	if code != 0 {
		t.Fatalf("igvm inspect = exit %d: %s", code, stderr)
	}
	var rep igvmInspection
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Platforms) != 2 || rep.Platforms[0].Platform != "sev_snp" || rep.Platforms[1].Platform != "vsm_isolation" {
		t.Fatalf("platforms = %+v, want sev_snp and vsm_isolation", rep.Platforms)
	}
	// Mask 1 (SNP): five 4 KiB pages 0x1000-0x6000 (0x2000 is mask 3),
	// one of them with data.
	snp := rep.Directives[0]
	wantCounts := map[string]int{"page_data": 5, "parameter_insert": 1, "vp_context": 1, "required_memory": 1, "error_range": 1, "snp_id_block": 1}
	if diff := cmp.Diff(wantCounts, snp.Counts); diff != "" {
		t.Errorf("SNP counts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]igvmRange{{"0x1000", "0x6000"}}, snp.GPARanges); diff != "" {
		t.Errorf("SNP GPA ranges (-want +got):\n%s", diff)
	}
	if snp.Pages != 5 || snp.PageDataBytes != 4096 || snp.VPContexts != 1 {
		t.Errorf("SNP pages %d, data %d, VP contexts %d; want 5, 4096, 1", snp.Pages, snp.PageDataBytes, snp.VPContexts)
	}
	vsm := rep.Directives[1]
	if diff := cmp.Diff([]igvmRange{{"0x2000", "0x3000"}, {"0x200000", "0x400000"}}, vsm.GPARanges); diff != "" {
		t.Errorf("VSM GPA ranges (-want +got):\n%s", diff)
	}
	if rep.Unmasked["parameter_area"] != 1 || rep.Unmasked["srat"] != 1 || len(rep.Skipped) != 1 || rep.Skipped[0].Type != "0x800003ff" {
		t.Errorf("unmasked %v, skipped %v", rep.Unmasked, rep.Skipped)
	}
	if stdout, _, code := runCLI("igvm", "inspect", path); code != 0 || !strings.Contains(stdout, "directives for mask 0x1 (sev_snp):") {
		t.Errorf("text output, exit %d:\n%s", code, stdout)
	}

	bad := append([]byte(nil), good...)
	bad[0x30] ^= 1
	_, stderr, code = runCLI("igvm", "inspect", writeIn(t, dir, "bad.igvm", bad))
	if code != exitError || !strings.Contains(stderr, "checksum at 0x14") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("corrupt file: exit %d, stderr %q; want exit %d and one line naming the checksum", code, stderr, exitError)
	}
	_, _, code = runCLI("igvm", "inspect", filepath.Join(dir, "missing.igvm"))
	if code != exitUnreadable {
		t.Errorf("missing file: exit %d, want %d", code, exitUnreadable)
	}
}
