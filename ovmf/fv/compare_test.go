package fv_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/ovmf/fv"
)

func diffFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "fixtures", "debian", name))
	if err != nil {
		t.Skipf("fixture %s: %v", name, err)
	}
	return b
}

// TestCompareDebian compares Debian trixie's and bookworm's OVMF_CODE_4M.fd
// (edk2 2025.02 and 2022.11): modules inside the LZMA-compressed
// FVMAIN_COMPACT must show, with UI names.
func TestCompareDebian(t *testing.T) {
	if testing.Short() {
		t.Skip("inflates two LZMA volumes: seconds")
	}
	a := diffFixture(t, "trixie-OVMF_CODE_4M.fd")
	b := diffFixture(t, "bookworm-OVMF_CODE_4M.fd")
	rep, err := fv.Compare(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Identical || rep.DiffBytes == 0 {
		t.Fatalf("Compare() = identical, want differences")
	}
	var lines []string
	for _, c := range rep.Changes {
		lines = append(lines, c.String())
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{"changed PeiCore", "52c05b14-0b98-496c-bc3b-04b50211d680 PEI_CORE", "(sections: PE32)", "removed TdTcg2Pei"} {
		if !strings.Contains(all, want) {
			t.Errorf("Compare() changes lack %q:\n%s", want, all)
		}
	}
}

func TestCompareIdentical(t *testing.T) {
	a := diffFixture(t, "trixie-OVMF_CODE_4M.fd")
	rep, err := fv.Compare(a, a)
	if err != nil || !rep.Identical || len(rep.Changes) != 0 {
		t.Errorf("Compare(a, a) = %+v, %v, want identical", rep, err)
	}
}

func TestCompareCorruptLZMA(t *testing.T) {
	out, ok, err := fv.LZMASection(fv.LZMAGUID, []byte("not lzma"))
	if err == nil || ok || out != nil {
		t.Errorf("LZMASection(garbage) = %v, %v, %v, want an error", out, ok, err)
	}
}

func TestCompareSynthetic(t *testing.T) {
	vol := func(pe string) []byte {
		v := fv.MarshalVolume(ovmf.MustParseGUID("6938079b-b503-4e3d-9d24-b28337a25806"), 0x1000,
			fv.MarshalFile(ovmf.MustParseGUID("52c05b14-0b98-496c-bc3b-04b50211d680"), 0x04,
				fv.MarshalSection(fv.SectionPE32, []byte(pe)), fv.MarshalUISection("PeiCore")))
		return v
	}
	rep, err := fv.Compare(vol("core"), vol("CORE"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Changes) != 1 || rep.Changes[0].A.UI != "PeiCore" || rep.DiffBytes != 4 {
		t.Errorf("Compare() = %+v, want PeiCore changed in 4 bytes", rep)
	}
	raw, err := fv.Compare([]byte("abc"), []byte("abd"))
	if err != nil || raw.Note == "" || raw.DiffBytes != 1 {
		t.Errorf("Compare(raw) = %+v, %v, want a note and 1 byte", raw, err)
	}
}

// TestCompareWholeImages compares whole OVMF.fd files, whose NVRAM volume
// is a variable store, not FFS.
func TestCompareWholeImages(t *testing.T) {
	if testing.Short() {
		t.Skip("inflates LZMA volumes: seconds")
	}
	rep, err := fv.Compare(diffFixture(t, "trixie-OVMF_VARS_4M.fd"), diffFixture(t, "trixie-OVMF_VARS_4M.ms.fd"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Changes) != 1 || !strings.Contains(rep.Changes[0].String(), "(volume contents, not FFS)") {
		t.Errorf("Compare(VARS, VARS.ms) changes = %v, want the variable store", rep.Changes)
	}
}
