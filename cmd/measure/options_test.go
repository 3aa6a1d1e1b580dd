//go:build !measure_front

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// TestReadLimit: one sized read of a file that says how large it is, and a
// bounded read of one that does not or that grew.
func TestReadLimit(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 1000)
	tests := []struct {
		name    string
		r       func() *bytes.Reader
		limit   int64
		size    int64
		want    []byte
		wantErr string
	}{
		{"sized", func() *bytes.Reader { return bytes.NewReader(data) }, 1 << 20, int64(len(data)), data, ""},
		{"unknown size", func() *bytes.Reader { return bytes.NewReader(data) }, 1 << 20, -1, data, ""},
		{"shrank", func() *bytes.Reader { return bytes.NewReader(data[:100]) }, 1 << 20, int64(len(data)), data[:100], ""},
		{"grew", func() *bytes.Reader { return bytes.NewReader(data) }, 1 << 20, 100, data, ""},
		{"grew past the limit", func() *bytes.Reader { return bytes.NewReader(data) }, 1000, 100, nil, "larger than 1000 bytes"},
		{"said too large", func() *bytes.Reader { return bytes.NewReader(data) }, 1000, int64(len(data)), nil, "larger than 1000 bytes"},
		{"unknown size too large", func() *bytes.Reader { return bytes.NewReader(data) }, 1000, -1, nil, "larger than 1000 bytes"},
		{"empty", func() *bytes.Reader { return bytes.NewReader(nil) }, 1000, 0, []byte{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readLimit(iotest.HalfReader(tc.r()), "f", tc.limit, tc.size)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !isUnreadable(err) {
					t.Errorf("readLimit error = %v, want an unreadable-file error %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Errorf("readLimit = %d bytes, %v, want %d bytes", len(got), err, len(tc.want))
			}
		})
	}
}

// TestReadFirmwareFile: a firmware file reads (mapped where the system maps
// files) to its bytes; a directory, an empty file and a file over the
// limit do not.
func TestReadFirmwareFile(t *testing.T) {
	dir := t.TempDir()
	want := bytes.Repeat([]byte{0xa5}, 3*4096)
	p := filepath.Join(dir, "fw.fd")
	if err := os.WriteFile(p, want, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readFirmwareFile(p)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("readFirmwareFile = %d bytes, %v, want %d bytes", len(got), err, len(want))
	}
	empty := filepath.Join(dir, "empty.fd")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := readFirmwareFile(empty); err != nil || len(got) != 0 {
		t.Errorf("readFirmwareFile(empty) = %d bytes, %v", len(got), err)
	}
	if _, err := readFirmwareFile(dir); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("readFirmwareFile(dir) = %v, want a directory error", err)
	}
	big := filepath.Join(dir, "big.fd")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(65<<20 + 4096); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := readFirmwareFile(big); err == nil || !strings.Contains(err.Error(), "larger than") || !isUnreadable(err) {
		t.Errorf("readFirmwareFile(65 MiB) = %v, want an unreadable-file error", err)
	}
}

// TestOVMFFromStdin: --ovmf - reads the firmware from standard input and
// measures it as the file.
func TestOVMFFromStdin(t *testing.T) {
	fw := filepath.Join(repoRoot, "testdata", "fixtures", "trixie-OVMF.fd")
	for _, args := range [][]string{
		{"snp", "--vcpus", "4", "--vcpu-type", "EPYC-v4"},
		{"tdx"},
		{"sev", "-o", "json"},
	} {
		var fromFile, fromStdin, stderr bytes.Buffer
		if err := run(append(args, "--ovmf", fw), &fromFile, &stderr); err != nil {
			t.Fatalf("measure %v --ovmf FILE: %v", args, err)
		}
		f, err := os.Open(fw)
		if err != nil {
			t.Fatal(err)
		}
		saved := os.Stdin
		os.Stdin = f
		err = run(append(args, "--ovmf", "-"), &fromStdin, &stderr)
		os.Stdin = saved
		f.Close()
		if err != nil {
			t.Fatalf("measure %v --ovmf -: %v", args, err)
		}
		want := strings.ReplaceAll(fromFile.String(), fw, "-")
		if fromStdin.String() != want {
			t.Errorf("measure %v --ovmf - = %q, want %q", args, fromStdin.String(), want)
		}
	}
}
