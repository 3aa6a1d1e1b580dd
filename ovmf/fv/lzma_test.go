package fv

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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
	edit2 := func(name string, f func([]byte) []byte) []byte { return f(xzStream(t, name, len(seq))) }
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
		{"more than LZMA expands", edit(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[5:], 60<<20); return b }), 0, "more than LZMA can expand them", ErrLZMACorrupt},
		{"no stream", good[:LZMAHeaderSize+3], 0, "3 bytes of range-coded data", ErrLZMACorrupt},
		{"first byte", edit(func(b []byte) []byte { b[LZMAHeaderSize] = 1; return b }), 0, "first range coder byte 0x1", ErrLZMACorrupt},
		{"truncated", good[:len(good)-40], 0, "ends early", ErrLZMACorrupt},
		{"trailing bytes", append(append([]byte(nil), good...), 0, 0, 0), 0, "3 bytes after the end", ErrLZMACorrupt},
		{"size too small", xzStream(t, "seq.lzma", len(seq)-100), 0, "past the declared size", ErrLZMACorrupt},
		{"size too large", xzStream(t, "seq.lzma", len(seq)+1), 0, "end marker after 8893 of 8894 bytes", ErrLZMACorrupt},
		{"distance over the dictionary", edit2("seq-lc0-lp4-pb4.lzma", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[1:], 0); return b }), 0, "match distance 5000, want at most 8889 (output so far) and 4096 (dictionary)", ErrLZMACorrupt},
		{"rep match first", repFirst(), 0, "a repeated match before any output", ErrLZMACorrupt},
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

// TestDecompressLZMAMatchesXZ has xz compress data of several kinds with
// several settings (LZMA alone: an unknown size and an end marker),
// declares the size in the header as edk2 does, and checks that
// DecompressLZMA returns what `xz --format=lzma -dc` does, which is the data.
// Far repeats reach the direct and align bits of distances; 8 MiB of zeros
// come close to the most LZMA expands (about 6600:1 here).
func TestDecompressLZMAMatchesXZ(t *testing.T) {
	xz, err := exec.LookPath("xz")
	if err != nil {
		t.Skip("xz not installed (apt-get install xz-utils): no comparison with xz")
	}
	rnd := rand.New(rand.NewPCG(13, 1))
	random := make([]byte, 256<<10)
	for i := range random {
		random[i] = byte(rnd.Uint32())
	}
	var far []byte // 4 KiB blocks, each new or a repeat of one up to 1 MiB back
	for len(far) < 3<<19 {
		if n := len(far) / 4096; n > 0 && rnd.IntN(3) > 0 {
			k := n - 1 - rnd.IntN(min(n, 256))
			far = append(far, far[k*4096:(k+1)*4096]...)
		} else {
			far = append(far, random[rnd.IntN(len(random)-4096):][:4096]...)
		}
	}
	var runs []byte // runs of one byte and short periods (overlapping matches)
	for len(runs) < 1<<20 {
		period, n := 1+rnd.IntN(5), 1+rnd.IntN(600)
		start := len(runs)
		runs = append(runs, random[rnd.IntN(1000):][:period]...)
		for range n {
			runs = append(runs, runs[len(runs)-period])
		}
		runs = append(runs, random[start%len(random)])
	}
	inputs := []struct {
		name string
		data []byte
	}{
		{"text", seqText(100000)},
		{"random", random},
		{"far repeats", far},
		{"runs", runs},
		{"zeros", make([]byte, 8<<20)},
		{"one byte", []byte{0x5a}},
	}
	settings := []string{"preset=6", "preset=9e", "preset=1", "preset=6,lc=0,lp=4,pb=4", "preset=6,lc=4,lp=0,pb=0", "preset=6,lc=1,lp=2,pb=1"}
	for _, in := range inputs {
		for _, set := range settings {
			if len(in.data) > 1<<20 && set != "preset=6" {
				continue // keep the test quick: big inputs with xz's default only
			}
			t.Run(in.name+"/"+set, func(t *testing.T) {
				t.Parallel()
				stream := xzRun(t, xz, in.data, "--format=lzma", "--lzma1="+set, "-c")
				want := xzRun(t, xz, stream, "--format=lzma", "-dc")
				if !bytes.Equal(want, in.data) {
					t.Fatalf("xz -dc gives %d bytes, want the %d bytes it compressed", len(want), len(in.data))
				}
				binary.LittleEndian.PutUint64(stream[lzmaSizeOffset:], uint64(len(in.data)))
				got, err := DecompressLZMA(stream, 0)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					i := 0
					for i < min(len(got), len(want)) && got[i] == want[i] {
						i++
					}
					t.Errorf("DecompressLZMA = %d bytes, xz -dc %d; first difference at byte %d", len(got), len(want), i)
				}
			})
		}
	}
}

func xzRun(t *testing.T, xz string, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(xz, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("xz %s: %v: %s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

// testEncoder writes LZMA streams the way edk2's LzmaCompress ends them,
// with the size declared and no end marker, which xz cannot write. It is a
// test's encoder, written from the specification's description of the
// encoder side (LzmaEnc.c's RangeEnc_ShiftLow and the symbol coding) and
// independent of the decoder's code: it emits literals, short reps and
// rep0 matches (distance 1, so runs), which is enough to reach every
// literal context, matched literals, the length coder and the end of a
// stream with a normalization still due.
type testEncoder struct {
	low        uint64
	rng        uint32
	cache      byte
	cacheSize  int
	out        []byte
	lc, lp, pb uint

	isMatch, isRep0Long [lzmaStates][1 << lzmaPosBitsMax]uint16
	isRep, isRepG0      [lzmaStates]uint16
	literal             []uint16
	choice, choice2     uint16
	low3, mid3          [1 << lzmaPosBitsMax][1 << 3]uint16
	high8               [1 << 8]uint16
}

func (e *testEncoder) shiftLow() {
	if uint32(e.low) < 0xff000000 || e.low>>32 != 0 {
		carry := byte(e.low >> 32)
		e.out = append(e.out, e.cache+carry)
		for ; e.cacheSize > 1; e.cacheSize-- {
			e.out = append(e.out, 0xff+carry)
		}
		e.cacheSize = 0
		e.cache = byte(e.low >> 24)
	}
	e.cacheSize++
	e.low = uint64(uint32(e.low) << 8)
}

func (e *testEncoder) bit(p *uint16, b uint32) {
	bound := (e.rng >> rcModelBits) * uint32(*p)
	if b == 0 {
		e.rng = bound
		*p += (rcBitModelTotal - *p) >> rcMoveBits
	} else {
		e.low += uint64(bound)
		e.rng -= bound
		*p -= *p >> rcMoveBits
	}
	for e.rng < rcTopValue {
		e.rng <<= 8
		e.shiftLow()
	}
}

func (e *testEncoder) tree(p []uint16, bits int, v uint32) {
	m := uint32(1)
	for i := bits - 1; i >= 0; i-- {
		b := v >> i & 1
		e.bit(&p[m], b)
		m = m<<1 | b
	}
}

// reset starts a stream with the properties lc, lp and pb.
func (e *testEncoder) reset(lc, lp, pb uint) {
	*e = testEncoder{rng: 0xffffffff, cacheSize: 1, lc: lc, lp: lp, pb: pb}
	fill(e.isRep[:])
	fill(e.isRepG0[:])
	fill(e.high8[:])
	e.choice, e.choice2 = rcInitProb, rcInitProb
	for i := range e.isMatch {
		fill(e.isMatch[i][:])
		fill(e.isRep0Long[i][:])
	}
	for i := range e.low3 {
		fill(e.low3[i][:])
		fill(e.mid3[i][:])
	}
	e.literal = make([]uint16, lzmaLiteralCoder<<(lc+lp))
	fill(e.literal)
}

// encode compresses data and returns the stream with its 13-byte header.
func (e *testEncoder) encode(data []byte, lc, lp, pb uint) []byte {
	e.reset(lc, lp, pb)
	state := 0
	for pos := 0; pos < len(data); {
		posState := pos & (1<<pb - 1)
		run := 0
		for pos > 0 && pos+run < len(data) && run < 273 && data[pos+run] == data[pos-1] {
			run++
		}
		if run == 0 { // a literal
			e.bit(&e.isMatch[state][posState], 0)
			var prev int
			if pos > 0 {
				prev = int(data[pos-1])
			}
			ctx := (pos&(1<<lp-1))<<lc + prev>>(8-lc)
			p := e.literal[ctx*lzmaLiteralCoder:][:lzmaLiteralCoder]
			c, sym := uint32(data[pos]), uint32(1)
			i := 7
			if state >= 7 { // the byte at rep0+1, here the previous one
				match := uint32(data[pos-1])
				for ; i >= 0; i-- {
					mbit, b := match>>i&1, c>>i&1
					e.bit(&p[(1+mbit)<<8+sym], b)
					sym = sym<<1 | b
					if mbit != b {
						i--
						break
					}
				}
			}
			for ; i >= 0; i-- {
				b := c >> i & 1
				e.bit(&p[sym], b)
				sym = sym<<1 | b
			}
			switch {
			case state < 4:
				state = 0
			case state < 10:
				state -= 3
			default:
				state -= 6
			}
			pos++
			continue
		}
		e.bit(&e.isMatch[state][posState], 1)
		e.bit(&e.isRep[state], 1)
		e.bit(&e.isRepG0[state], 0)
		if run == 1 { // short rep
			e.bit(&e.isRep0Long[state][posState], 0)
			if state < 7 {
				state = 9
			} else {
				state = 11
			}
			pos++
			continue
		}
		e.bit(&e.isRep0Long[state][posState], 1)
		switch n := uint32(run - lzmaMatchMinLen); {
		case n < 8:
			e.bit(&e.choice, 0)
			e.tree(e.low3[posState][:], 3, n)
		case n < 16:
			e.bit(&e.choice, 1)
			e.bit(&e.choice2, 0)
			e.tree(e.mid3[posState][:], 3, n-8)
		default:
			e.bit(&e.choice, 1)
			e.bit(&e.choice2, 1)
			e.tree(e.high8[:], 8, n-16)
		}
		if state < 7 {
			state = 8
		} else {
			state = 11
		}
		pos += run
	}
	return e.finish(uint64(len(data)))
}

// finish flushes the range encoder and returns the stream, declaring size.
func (e *testEncoder) finish(size uint64) []byte {
	for range 5 {
		e.shiftLow()
	}
	h := LZMAHeader{Props: uint8((e.pb*5+e.lp)*9 + e.lc), DictSize: 1 << 16, Size: size}
	return append(h.Marshal(), e.out...)
}

// repFirst returns a stream that starts with a short rep (edk2's
// properties): a match before there is anything to match.
func repFirst() []byte {
	var e testEncoder
	e.reset(3, 0, 2)
	e.bit(&e.isMatch[0][0], 1)
	e.bit(&e.isRep[0], 1)
	e.bit(&e.isRepG0[0], 0)
	e.bit(&e.isRep0Long[0][0], 0)
	return e.finish(1)
}

// TestDecompressLZMANoEndMarker decodes streams of testEncoder, which end
// without an end marker as edk2's do, over many random inputs and
// properties, so that some end with the decoder's last normalization still
// due; xz, when installed, decodes a few of them too.
func TestDecompressLZMANoEndMarker(t *testing.T) {
	xz, _ := exec.LookPath("xz")
	rnd := rand.New(rand.NewPCG(13, 3))
	var e testEncoder
	for i := range 300 {
		n := rnd.IntN(3000)
		var data []byte // small alphabet, repeats of the last byte, runs
		for len(data) < n {
			switch r := rnd.IntN(100); {
			case len(data) > 0 && r < 25:
				data = append(data, data[len(data)-1])
			case len(data) > 0 && r < 28:
				data = append(data, bytes.Repeat(data[len(data)-1:], 1+rnd.IntN(700))...)
			default:
				data = append(data, byte(rnd.IntN(8))<<rnd.IntN(6))
			}
		}
		data = data[:n]
		lc, lp, pb := uint(rnd.IntN(9)), uint(rnd.IntN(5)), uint(rnd.IntN(5))
		if i%3 == 0 {
			lc, lp, pb = 3, 0, 2 // edk2's
		}
		stream := e.encode(data, lc, lp, pb)
		got, err := DecompressLZMA(stream, 0)
		if err != nil {
			t.Fatalf("input %d (%d bytes, lc %d lp %d pb %d): %v", i, len(data), lc, lp, pb, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("input %d (%d bytes, lc %d lp %d pb %d): decoded %d bytes that differ", i, len(data), lc, lp, pb, len(got))
		}
		for _, bad := range []struct {
			what   string
			stream []byte
		}{
			{"the last byte cut", stream[:len(stream)-1]},
			{"a byte more", append(append([]byte(nil), stream...), 0)},
			{"a size one less", setSize(stream, uint64(len(data)-1))},
			// Not a size one more: without an end marker the flush bytes
			// may decode as one more symbol, as they would for xz.
		} {
			if len(data) == 0 && bad.what == "a size one less" {
				continue
			}
			if out, err := DecompressLZMA(bad.stream, 0); !errors.Is(err, ErrLZMACorrupt) {
				t.Fatalf("input %d with %s: %d bytes, error %v; want ErrLZMACorrupt", i, bad.what, len(out), err)
			}
		}
		if xz != "" && i < 20 && lc+lp <= 4 {
			if want := xzRun(t, xz, stream, "--format=lzma", "-dc"); !bytes.Equal(want, data) {
				t.Fatalf("input %d: xz -dc decodes the test encoder's stream to %d other bytes", i, len(want))
			}
		}
	}
}

func setSize(stream []byte, size uint64) []byte {
	b := append([]byte(nil), stream...)
	binary.LittleEndian.PutUint64(b[lzmaSizeOffset:], size)
	return b
}

// TestDecompressLZMATruncated cuts streams at every length (the xz stream
// of seq.lzma) or at 300 lengths within the first 64 KiB of trixie's DXE
// section: each is an error, never a panic, whatever a symbol reads past
// the end.
func TestDecompressLZMATruncated(t *testing.T) {
	seq := xzStream(t, "seq.lzma", 8893)
	for n := range len(seq) {
		if _, err := DecompressLZMA(seq[:n], 0); err == nil {
			t.Fatalf("seq.lzma cut to %d of %d bytes decoded", n, len(seq))
		}
	}
	dxe := ovmfLZMA(t, "trixie-OVMF.fd")
	rnd := rand.New(rand.NewPCG(13, 4))
	for range 300 {
		n := LZMAHeaderSize + rnd.IntN(64<<10)
		if _, err := DecompressLZMA(dxe[:n], 0); err == nil {
			t.Fatalf("trixie's DXE section cut to %d of %d bytes decoded", n, len(dxe))
		}
	}
}

// TestDecompressLZMAMemory checks the memory DecompressLZMA takes: the
// declared size and a small constant for a real section, and next to
// nothing for a header that declares more than its stream can hold.
func TestDecompressLZMAMemory(t *testing.T) {
	allocated := func(f func()) uint64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	payload := ovmfLZMA(t, "trixie-OVMF.fd")
	h, err := ParseLZMAHeader(payload)
	if err != nil {
		t.Fatal(err)
	}
	const slack = 64 << 10 // probabilities (16 KiB for lc=3 lp=0), padded tail, errors
	if n := allocated(func() {
		if _, err := DecompressLZMA(payload, 0); err != nil {
			t.Fatal(err)
		}
	}); n > h.Size+slack {
		t.Errorf("DecompressLZMA(trixie DXE) allocated %d bytes, want at most the declared %d + %d", n, h.Size, slack)
	}
	hostile := append(LZMAHeader{Props: 0x5d, DictSize: 1 << 24, Size: 60 << 20}.Marshal(), payload[LZMAHeaderSize:][:1000]...)
	if n := allocated(func() {
		if _, err := DecompressLZMA(hostile, 0); err == nil {
			t.Fatal("DecompressLZMA(60 MiB declared over 1000 bytes) succeeded")
		}
	}); n > slack {
		t.Errorf("DecompressLZMA(60 MiB declared over 1000 bytes) allocated %d bytes, want at most %d", n, slack)
	}
}

// TestBitNoBranch checks that the branch-free bit decoder agrees with bit
// on every probability and on range/code pairs around each bound (and on
// the code out of range that a corrupt stream leaves).
func TestBitNoBranch(t *testing.T) {
	rnd := rand.New(rand.NewPCG(13, 2))
	for p := uint16(1<<rcMoveBits - 1); p <= rcProbMax; p++ {
		for range 64 {
			rng := rcTopValue + rnd.Uint32N(^uint32(0)-rcTopValue)
			bound := (rng >> rcModelBits) * uint32(p)
			codes := []uint32{0, bound - 1, bound, bound + 1, rng - 1, rnd.Uint32N(rng), rng, ^uint32(0)}
			if rnd.IntN(4) == 0 {
				rng >>= 9 // below rcTopValue: both normalize first
				codes = []uint32{0, rng - 1, rnd.Uint32N(rng)}
			}
			for _, code := range codes {
				rc := rangeDecoder{in: []byte{0xa5}, rng: rng, code: code}
				p1, p2 := p, p
				rc1, b1 := rc.bit(&p1)
				rc2, b2 := rc.normalize().bitNoBranch(&p2)
				if b1 != b2 || p1 != p2 || rc1.rng != rc2.rng || rc1.code != rc2.code {
					t.Fatalf("range %#x code %#x p %d: bit = %d, p %d, range %#x code %#x; bitNoBranch = %d, p %d, range %#x code %#x",
						rng, code, p, b1, p1, rc1.rng, rc1.code, b2, p2, rc2.rng, rc2.code)
				}
			}
		}
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
	// Streams without an end marker, as edk2 writes them.
	var e testEncoder
	f.Add(e.encode(seq[:3000], 3, 0, 2))
	f.Add(e.encode(bytes.Repeat([]byte("\x00\x00\x00\x01\xff"), 300), 0, 2, 1))
	f.Add(repFirst())
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

// BenchmarkDecompressLZMA decodes the LZMA sections of trixie's and
// bookworm's OVMF and reports MB/s of output and x-xz, the time per decode
// over that of the fastest of 5 `xz --format=lzma -dc` processes on the same
// payload (1 is as fast as xz; a process costs a millisecond or two more
// than a call). scripts/bench-lzma.sh compares whole processes in pairs.
func BenchmarkDecompressLZMA(b *testing.B) {
	for _, name := range []string{"trixie-OVMF.fd", "bookworm-OVMF.fd"} {
		b.Run(strings.TrimSuffix(name, "-OVMF.fd"), func(b *testing.B) {
			payload := ovmfLZMA(b, name)
			var xzTime time.Duration
			if xz, err := exec.LookPath("xz"); err == nil {
				for range 5 {
					cmd := exec.Command(xz, "--format=lzma", "-dc")
					cmd.Stdin = bytes.NewReader(payload)
					start := time.Now()
					if err := cmd.Run(); err != nil {
						b.Fatal(err)
					}
					if d := time.Since(start); xzTime == 0 || d < xzTime {
						xzTime = d
					}
				}
			}
			b.ReportAllocs()
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
		})
	}
}

// TestLZMAFile serves scripts/bench-lzma.sh, which times whole processes:
// with MEASURE_LZMA_EXTRACT=DIR it writes the LZMA section payload of each
// Debian OVMF fixture to DIR/NAME.lzma (what `xz --format=lzma -dc` reads);
// with MEASURE_LZMA_FILE=FILE it decodes FILE once, as the measurement does.
// Without either it is skipped.
func TestLZMAFile(t *testing.T) {
	dir, file := os.Getenv("MEASURE_LZMA_EXTRACT"), os.Getenv("MEASURE_LZMA_FILE")
	if dir == "" && file == "" {
		t.Skip("MEASURE_LZMA_EXTRACT and MEASURE_LZMA_FILE unset (scripts/bench-lzma.sh sets them)")
	}
	if dir != "" {
		for name := range xzDigests {
			out := filepath.Join(dir, strings.TrimSuffix(name, ".fd")+".lzma")
			if err := os.WriteFile(out, ovmfLZMA(t, name), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecompressLZMA(b, 0); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
}
