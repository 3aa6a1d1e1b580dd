package fv

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/measure-cc/measure/ovmf"
)

// xzStream reads a testdata/lzma file (made by xz --format=lzma, which
// writes an unknown size and an end marker) and declares size in its
// header, as edk2's LzmaCompress does.
func xzStream(t testing.TB, name string, size int) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "lzma", name))
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint64(b[lzmaSizeOffset:], uint64(size))
	return b
}

func seqText(n int) []byte {
	var b bytes.Buffer
	for i := 1; i <= n; i++ {
		b.WriteString(strconv.Itoa(i))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func TestLZMAHeader(t *testing.T) {
	h := LZMAHeader{Props: 0x5d, DictSize: 1 << 23, Size: 16122000}
	b := h.Marshal()
	if len(b) != LZMAHeaderSize || binary.Size(h) != LZMAHeaderSize {
		t.Fatalf("header is %d bytes (binary.Size %d), want %d", len(b), binary.Size(h), LZMAHeaderSize)
	}
	got, err := ParseLZMAHeader(b)
	if err != nil || got != h {
		t.Errorf("ParseLZMAHeader(Marshal(%+v)) = %+v, %v", h, got, err)
	}
	if h.LC() != 3 || h.LP() != 0 || h.PB() != 2 {
		t.Errorf("props 0x5d = lc %d lp %d pb %d, want 3 0 2", h.LC(), h.LP(), h.PB())
	}
}

// TestDecompressLZMAXZ decodes streams xz 5.4.1 wrote (testdata/lzma/README.md)
// and compares them with the plain data they were made from.
func TestDecompressLZMAXZ(t *testing.T) {
	tests := []struct {
		file string
		want []byte
	}{
		{"seq.lzma", seqText(2000)},
		{"seq-lc0-lp4-pb4.lzma", seqText(2000)},
		{"zeros.lzma", make([]byte, 3000)},
		{"empty.lzma", []byte{}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			got, err := DecompressLZMA(xzStream(t, tc.file, len(tc.want)), 0)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("DecompressLZMA(%s) = %d bytes, want %d bytes of the original", tc.file, len(got), len(tc.want))
			}
		})
	}
}

func TestDecompressLZMAErrors(t *testing.T) {
	seq := seqText(2000)
	good := xzStream(t, "seq.lzma", len(seq))
	edit := func(f func([]byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := []struct {
		name    string
		in      []byte
		max     int
		wantErr string
		wantIs  error
	}{
		{"short header", good[:12], 0, "header is 12 bytes", ErrLZMACorrupt},
		{"bad properties", edit(func(b []byte) []byte { b[0] = 225; return b }), 0, "properties byte 0xe1", ErrLZMACorrupt},
		{"unknown size", edit(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[5:], ^uint64(0)); return b }), 0, "size unknown", ErrLZMACorrupt},
		{"over the cap", good, 1000, "8893 bytes, limit 1000", ErrLZMATooLarge},
		{"over the default cap", edit(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[5:], 1<<40); return b }), 0, "limit 67108864", ErrLZMATooLarge},
		{"no stream", good[:LZMAHeaderSize+3], 0, "3 bytes of range-coded data", ErrLZMACorrupt},
		{"first byte", edit(func(b []byte) []byte { b[LZMAHeaderSize] = 1; return b }), 0, "first range coder byte 0x1", ErrLZMACorrupt},
		{"truncated", good[:len(good)-40], 0, "ends early", ErrLZMACorrupt},
		{"trailing bytes", append(append([]byte(nil), good...), 0, 0, 0), 0, "3 bytes after the end", ErrLZMACorrupt},
		{"size too small", xzStream(t, "seq.lzma", len(seq)-100), 0, "past the declared size", ErrLZMACorrupt},
		{"size too large", xzStream(t, "seq.lzma", len(seq)+1), 0, "end marker after 8893 of 8894 bytes", ErrLZMACorrupt},
		{"flipped bit", edit(func(b []byte) []byte { b[200] ^= 0x10; return b }), 0, "", ErrLZMACorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := DecompressLZMA(tc.in, tc.max)
			if err == nil {
				t.Fatalf("DecompressLZMA() = %d bytes, want an error", len(out))
			}
			if !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, tc.wantIs) {
				t.Errorf("DecompressLZMA() error = %q, want it to contain %q and be %v", err, tc.wantErr, tc.wantIs)
			}
		})
	}
}

// ovmfLZMA returns the payload of the one LzmaCustomDecompress section of a
// Debian OVMF image (FVMAIN_COMPACT's PEIFV and DXEFV).
func ovmfLZMA(t testing.TB, name string) []byte {
	t.Helper()
	img, err := os.ReadFile(filepath.Join("..", "..", "testdata", "fixtures", name))
	if err != nil {
		t.Skipf("fixture: %v", err)
	}
	var payloads [][]byte
	_, err = Parse(img, Options{Decompress: func(g ovmf.GUID, data []byte) ([]byte, bool, error) {
		if g == LZMAGUID {
			payloads = append(payloads, data)
		}
		return nil, false, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(payloads) != 1 {
		t.Fatalf("%s: %d LZMA sections, want 1", name, len(payloads))
	}
	return payloads[0]
}

// The sha256 of the decompressed sections as `xz --format=lzma -d` (xz-utils
// 5.4.1, Debian 12) prints them for the payloads ovmfLZMA extracts.
var xzDigests = map[string]string{
	"trixie-OVMF.fd":   "6d342d0ebd91794352d231064c6ddb32ec8549e560d572d56523c918b76381fb",
	"bookworm-OVMF.fd": "fe1a71f3dd92cf4e3250b05baf52eb2352893b64c7dd80bc9abee04cf39e0002",
}

// TestDecompressOVMF decompresses the DXE and PEI volumes of Debian's OVMF
// and checks the result against xz and against OvmfPkgX64.fdf.
func TestDecompressOVMF(t *testing.T) {
	var (
		peiFV = ovmf.MustParseGUID("6938079b-b503-4e3d-9d24-b28337a25806") // [FV.PEIFV] FvNameGuid
		dxeFV = ovmf.MustParseGUID("7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1") // [FV.DXEFV] FvNameGuid
		shell = ovmf.MustParseGUID("7c04a583-9e3e-4f1c-ad65-e05268d0b4d1") // ShellPkg Shell.inf FILE_GUID
	)
	tests := []struct {
		name     string
		size     int
		ui       []string // in DXEFV
		notUI    []string
		hasShell bool
	}{
		// Debian bookworm 2022.11: secure boot build, no CC measurement.
		{"bookworm-OVMF.fd", 13500560, []string{"DxeCore", "UiApp", "BdsDxe", "SecureBootConfigDxe", "Tcg2Dxe", "Shell"}, []string{"TdTcg2Dxe"}, true},
		// Debian trixie 2025.02: OVMF_4M_NO_SECBOOT_FLAGS, CC measurement on.
		{"trixie-OVMF.fd", 16122000, []string{"DxeCore", "UiApp", "BdsDxe", "TdTcg2Dxe", "Shell"}, []string{"SecureBootConfigDxe"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			payload := ovmfLZMA(t, tc.name)
			out, err := DecompressLZMA(payload, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != tc.size {
				t.Errorf("decompressed %d bytes, want %d", len(out), tc.size)
			}
			sum := sha256.Sum256(out)
			if got := hex.EncodeToString(sum[:]); got != xzDigests[tc.name] {
				t.Errorf("sha256 = %s, want %s (xz)", got, xzDigests[tc.name])
			}
			vols, err := Parse(out, Options{})
			if err == nil {
				t.Errorf("the decompressed section parsed as volumes at 4 KiB steps; want sections")
			}
			secs, err := (&parser{budget: 1 << 30}).sections(out, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range secs {
				vols = append(vols, s.Volumes...)
			}
			var names []ovmf.GUID
			for _, v := range vols {
				names = append(names, v.Name)
			}
			if len(vols) != 2 || vols[0].Name != peiFV || vols[1].Name != dxeFV {
				t.Fatalf("volumes %v, want PEIFV %s and DXEFV %s", names, peiFV, dxeFV)
			}
			dxe := vols[1:]
			for _, ui := range tc.ui {
				if _, f := FindFileByUI(dxe, ui); f == nil {
					t.Errorf("DXEFV has no file %q", ui)
				}
			}
			for _, ui := range tc.notUI {
				if _, f := FindFileByUI(dxe, ui); f != nil {
					t.Errorf("DXEFV has %q (%s), want none", ui, f.Header.Name)
				}
			}
			v, f := FindFile(dxe, shell)
			if (f != nil) != tc.hasShell || f != nil && (f.UI != "Shell" || v.Name != dxeFV || f.Header.Type != 0x09) {
				t.Errorf("Shell file = %+v in %v, want present %v, APPLICATION named Shell", f, v, tc.hasShell)
			}
			if f != nil && len(f.LeafSections(SectionPE32)) != 1 {
				t.Errorf("Shell has %d PE32 sections, want 1", len(f.LeafSections(SectionPE32)))
			}
		})
	}
}

// TestDecompressOVMFWithXZ runs xz on the same payloads when it is installed.
func TestDecompressOVMFWithXZ(t *testing.T) {
	xz, err := exec.LookPath("xz")
	if err != nil {
		t.Skip("xz not installed (apt-get install xz-utils)")
	}
	for name := range xzDigests {
		t.Run(name, func(t *testing.T) {
			payload := ovmfLZMA(t, name)
			cmd := exec.Command(xz, "--format=lzma", "-dc")
			cmd.Stdin = bytes.NewReader(payload)
			want, err := cmd.Output()
			if err != nil {
				t.Fatalf("xz: %v", err)
			}
			got, err := DecompressLZMA(payload, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("DecompressLZMA = sha256 %x, xz = %x", sha256.Sum256(got), sha256.Sum256(want))
			}
		})
	}
}

// TestParseOVMFDecompressed opens FVMAIN_COMPACT with LZMASection.
func TestParseOVMFDecompressed(t *testing.T) {
	img, err := os.ReadFile(filepath.Join("..", "..", "testdata", "fixtures", "trixie-OVMF.fd"))
	if err != nil {
		t.Skipf("fixture: %v", err)
	}
	vols, err := Parse(img, Options{Decompress: LZMASection})
	if err != nil {
		t.Fatal(err)
	}
	v, f := FindFileByUI(vols, "UiApp")
	if f == nil || v.Name != ovmf.MustParseGUID("7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1") || f.Header.Name != ovmf.MustParseGUID("462caa21-7614-4503-836e-8ab6f4662331") {
		t.Errorf("UiApp = %v in %v, want 462caa21-... in DXEFV", f, v)
	}
	for _, m := range Modules(vols) {
		if m.Opaque {
			t.Errorf("module %s is still opaque", m.Name())
		}
	}
}

func FuzzDecompressLZMA(f *testing.F) {
	seq := seqText(2000)
	f.Add(xzStream(f, "seq.lzma", len(seq)))
	f.Add(xzStream(f, "seq-lc0-lp4-pb4.lzma", len(seq)))
	f.Add(xzStream(f, "zeros.lzma", 3000))
	f.Add(xzStream(f, "empty.lzma", 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := DecompressLZMA(b, 1<<20)
		if err != nil {
			return
		}
		h, _ := ParseLZMAHeader(b)
		if uint64(len(out)) != h.Size {
			t.Fatalf("decoded %d bytes, header says %d", len(out), h.Size)
		}
	})
}

// BenchmarkDecompressLZMA decodes trixie's FVMAIN_COMPACT section and
// reports the time relative to xz -d on the same payload (x-xz; 1 is as
// fast as xz).
func BenchmarkDecompressLZMA(b *testing.B) {
	payload := ovmfLZMA(b, "trixie-OVMF.fd")
	var xzTime time.Duration
	if xz, err := exec.LookPath("xz"); err == nil {
		const runs = 3
		start := time.Now()
		for range runs {
			cmd := exec.Command(xz, "--format=lzma", "-dc")
			cmd.Stdin = bytes.NewReader(payload)
			if err := cmd.Run(); err != nil {
				b.Fatal(err)
			}
		}
		xzTime = time.Since(start) / runs
	}
	b.ResetTimer()
	var n int
	for b.Loop() {
		out, err := DecompressLZMA(payload, 0)
		if err != nil {
			b.Fatal(err)
		}
		n = len(out)
	}
	b.SetBytes(int64(n))
	if xzTime > 0 {
		b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(xzTime), "x-xz")
	}
}
