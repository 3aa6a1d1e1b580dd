package authenticode

import (
	"bytes"
	"strings"
	"testing"

	"github.com/measure-cc/measure/measure/tdx/tdxtest"
)

// The digest of real and synthetic images is checked against an
// independent implementation in measure/tdx/tdxtest and against the kernel
// vectors of ../shared/vectors/tdx.tsv (cmd/measure).

func TestSHA384Errors(t *testing.T) {
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"empty", nil, "PE image"},
		{"not PE", bytes.Repeat([]byte{0x4d, 0x5a, 0}, 100), "PE image"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SHA384(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("SHA384 error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// FuzzSHA384: hostile PE images never panic.
func FuzzSHA384(f *testing.F) {
	f.Add([]byte("MZ"))
	f.Add(tdxtest.BzImage("6.12.0-fuzz"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = SHA384(b)
	})
}
