package ovmf

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestJoinSplitDebian joins Debian's trixie OVMF_VARS_4M.fd and
// OVMF_CODE_4M.fd: the CODE part's TDVF metadata then finds its CFV (the
// variable store) at image offset 0 and its BFV right after VARS, which it
// does not in CODE alone.
func TestJoinSplitDebian(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "fixtures", name))
		if err != nil {
			t.Skipf("fixture %s: %v", name, err)
		}
		return b
	}
	vars, code := read("trixie-OVMF_VARS_4M.fd"), read("trixie-OVMF_CODE_4M.fd")
	joined, err := JoinSplit(vars, code)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(joined[:len(vars)], vars) || !bytes.Equal(joined[len(vars):], code) {
		t.Fatal("JoinSplit is not VARS followed by CODE")
	}
	md, err := ParseTDVF(joined)
	if err != nil {
		t.Fatal(err)
	}
	if err := md.Validate(int64(len(joined))); err != nil {
		t.Errorf("joined image: %v", err)
	}
	cfv, ok := md.Section(TDVFSectionCFV)
	if !ok || cfv.DataOffset != 0 || int(cfv.RawDataSize) > len(vars) {
		t.Errorf("CFV %+v, want it at offset 0 inside VARS (%#x bytes)", cfv, len(vars))
	}
	if _, err := ParseTDVF(code); !errors.Is(err, ErrTDVFSectionOutsideImage) {
		t.Errorf("ParseTDVF(CODE alone) = %v, want ErrTDVFSectionOutsideImage", err)
	}
}

func TestJoinSplitErrors(t *testing.T) {
	big := make([]byte, MaxImageSize/2+PageSize)
	for _, tc := range []struct {
		name       string
		vars, code []byte
		wantErr    string
	}{
		{"no vars", nil, make([]byte, PageSize), "want both non-empty"},
		{"no code", make([]byte, PageSize), nil, "want both non-empty"},
		{"too large", big, big, "more than the"},
	} {
		if _, err := JoinSplit(tc.vars, tc.code); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: JoinSplit error = %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}
