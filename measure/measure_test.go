package measure_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/measure-cc/measure/measure"
	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/ovmf/ovmftest"
)

func loadImage(t testing.TB, name string) *ovmf.Image {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "fixtures", name))
	if err != nil {
		t.Skipf("fixture %s: %v", name, err)
	}
	img, err := ovmf.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestComputeVectors computes one launch of each platform of Debian trixie's
// OVMF.fd in one call. The expected values come from other implementations
// (testdata/vectors/README.md): virtee/sev-snp-measure for SEV, SEV-ES and
// SEV-SNP (sev-snp-measure-generated.tsv), google/gce-tcb-verifier for MRTD
// (tdx.tsv).
func TestComputeVectors(t *testing.T) {
	img := loadImage(t, "trixie-OVMF.fd")
	launches := []measure.Launch{
		measure.SEV{},
		measure.SEVES{VMM: measure.VMMQEMU, VCPUs: 2, CPU: measure.CPU{Signature: 0x800f12}},
		measure.SNP{VMM: measure.VMMQEMU, VCPUs: 7, CPU: measure.CPU{Signature: 0x800f12}, GuestFeatures: 0x21},
		measure.TDX{PageAddOrder: measure.SinglePass, QEMU: measure.QEMUVersion{Major: 10, Minor: 2}, Memory: 128 << 20},
	}
	want := []struct {
		reg measure.Register
		alg measure.Algorithm
		hex string
	}{
		{measure.LaunchDigest, measure.SHA256, "14954040cc754ade0c625ac3470ea46d4c14318b5b1396de4ef77090203d76db"},
		{measure.LaunchDigest, measure.SHA256, "702d5c8309ec7a3b8754bbd019f4a75de88b1b2954adcfd028a3013f1449b0b6"},
		{measure.Measurement, measure.SHA384, "fede0bef52ee5bf42d6563ff3c1ed20d3fd08baf5e8e97454faaabd1570b4d4f568998e33679222758a7929e6d12c9d0"},
		{measure.MRTD, measure.SHA384, "bdc6fb145880f06f30c8b346b8dce2a99d9351b56892df22f80fcf6574caa9f9c31df8e8576d53b4d0cd1c3f28910e11"},
	}
	res, err := measure.Compute(img, nil, launches, measure.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(want) {
		t.Fatalf("Compute = %d results, want %d", len(res), len(want))
	}
	for i, r := range res {
		if r.Launch != launches[i] || len(r.Values) != 1 {
			t.Errorf("result %d: launch %v, %d values, want %v and one value", i, r.Launch, len(r.Values), launches[i])
			continue
		}
		v := r.Values[0]
		if v.Register != want[i].reg || v.Algorithm != want[i].alg || v.String() != want[i].hex {
			t.Errorf("%s: %s %s %s, want %s %s %s", r.Launch, v.Register, v.Algorithm, v, want[i].reg, want[i].alg, want[i].hex)
		}
		if len(v.Bytes()) != v.Algorithm.Size() {
			t.Errorf("%s: %d bytes, want %d", r.Launch, len(v.Bytes()), v.Algorithm.Size())
		}
		ok := false
		for _, reg := range measure.Registers(r.Launch.Platform()) {
			ok = ok || reg == v.Register
		}
		if !ok {
			t.Errorf("%s: register %s is not among %v", r.Launch, v.Register, measure.Registers(r.Launch.Platform()))
		}
	}
}

// TestSeed: starting from SNPFirmwareDigest gives the same MEASUREMENT;
// starting from another seed does not.
func TestSeed(t *testing.T) {
	img := loadImage(t, "trixie-OVMF.fd")
	l := measure.SNP{VMM: measure.VMMQEMU, VCPUs: 4, CPU: mustCPU(t, "EPYC-v4"), GuestFeatures: 1}
	plain, err := measure.Compute(img, nil, []measure.Launch{l}, measure.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// sev-snp-measure-generated.tsv, gen-ovmfhash-trixie-ovmf.
	seed := measure.SNPFirmwareDigest(img)
	if seed.String() != "52de7f3ba560307ec6c22a5cb001524d5e560467b5d618c715cfe3c6f1addcadb91563693fbfa433ae18c2412d739a95" {
		t.Errorf("SNPFirmwareDigest = %s", seed)
	}
	seeded, err := measure.Compute(img, nil, []measure.Launch{l}, measure.Options{SNPFirmwareDigest: &seed})
	if err != nil {
		t.Fatal(err)
	}
	if seeded[0].Values[0] != plain[0].Values[0] {
		t.Errorf("seeded MEASUREMENT %s, want %s", seeded[0].Values[0], plain[0].Values[0])
	}
	other, _ := measure.NewValue(measure.Measurement, measure.SHA384, make([]byte, 48))
	wrong, err := measure.Compute(img, nil, []measure.Launch{l}, measure.Options{SNPFirmwareDigest: &other})
	if err != nil {
		t.Fatal(err)
	}
	if wrong[0].Values[0] == plain[0].Values[0] {
		t.Error("a zero seed gives the same MEASUREMENT")
	}
}

func mustCPU(t testing.TB, name string) measure.CPU {
	t.Helper()
	c, err := measure.LookupCPU(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestBootKernelHashes: the SEV hashes-table digests of a Boot are the
// SHA-256 of the kernel, of the initrd (of no bytes without one) and of the
// NUL-terminated command line (QEMU target/i386/sev.c).
func TestBootKernelHashes(t *testing.T) {
	initrd, err := measure.HashBlob(strings.NewReader("initrd"))
	if err != nil {
		t.Fatal(err)
	}
	b := &measure.Boot{Kernel: []byte("kernel"), Initrd: initrd, Cmdline: "console=ttyS0"}
	kh := b.KernelHashes()
	if kh.Kernel != sha256.Sum256([]byte("kernel")) || kh.Initrd != sha256.Sum256([]byte("initrd")) || kh.Cmdline != sha256.Sum256([]byte("console=ttyS0\x00")) {
		t.Errorf("KernelHashes = %+v", kh)
	}
	if kh := (&measure.Boot{}).KernelHashes(); kh.Initrd != sha256.Sum256(nil) || kh.Cmdline != sha256.Sum256([]byte{0}) {
		t.Errorf("KernelHashes without initrd and command line = %+v", kh)
	}
}

func TestHashBlob(t *testing.T) {
	for _, n := range []int{0, 1, 256 << 10, 256<<10 + 1, 3 << 20} {
		data := bytes.Repeat([]byte{0xa5, 0x5a, 3}, n/3+1)[:n]
		for name, r := range map[string]func() *bytes.Reader{"whole": func() *bytes.Reader { return bytes.NewReader(data) }} {
			for _, wrap := range []struct {
				name string
				f    func(*bytes.Reader) interface{ Read([]byte) (int, error) }
			}{
				{"plain", func(r *bytes.Reader) interface{ Read([]byte) (int, error) } { return r }},
				{"one byte at a time", func(r *bytes.Reader) interface{ Read([]byte) (int, error) } { return iotest.OneByteReader(r) }},
			} {
				if wrap.name != "plain" && n > 1<<20 {
					continue
				}
				b, err := measure.HashBlob(wrap.f(r()))
				if err != nil {
					t.Fatal(err)
				}
				if b.Size != uint64(n) || b.SHA256 != sha256.Sum256(data) || b.SHA384 != sha512.Sum384(data) {
					t.Errorf("%s %s %d bytes: HashBlob = size %d sha256 %x sha384 %x", name, wrap.name, n, b.Size, b.SHA256, b.SHA384)
				}
			}
		}
	}
	if _, err := measure.HashBlob(iotest.ErrReader(os.ErrClosed)); err == nil {
		t.Error("HashBlob of a failing reader succeeded")
	}
}

// TestTDXRTMRs: a TDX launch with RTMRs returns MRTD first, then each
// computable RTMR with its prediction, and the same MRTD as without.
func TestTDXRTMRs(t *testing.T) {
	img := loadImage(t, "trixie-OVMF.fd")
	l := measure.DefaultTDX()
	if l.Memory != 128<<20 || l.PageAddOrder != measure.SinglePass {
		t.Errorf("DefaultTDX = %+v, want 128 MiB, single-pass", l)
	}
	fast, err := measure.Compute(img, nil, []measure.Launch{l}, measure.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l.RTMRs = true
	full, err := measure.Compute(img, nil, []measure.Launch{l}, measure.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := full[0]
	if r.TDX == nil || r.Values[0] != fast[0].Values[0] {
		t.Fatalf("with RTMRs: prediction %v, MRTD %s, want a prediction and MRTD %s", r.TDX != nil, r.Values[0], fast[0].Values[0])
	}
	for i, d := range r.TDX.RTMRs {
		v, ok := r.Value(measure.RTMR(i))
		if ok != (d != nil) || ok && hex.EncodeToString(d[:]) != v.String() {
			t.Errorf("RTMR%d: value %v (%v), prediction %v", i, v, ok, d)
		}
	}
	if _, ok := fast[0].Value(measure.RTMR1); ok {
		t.Error("MRTD-only launch has an RTMR1 value")
	}
	if measure.RTMR(3) != measure.RTMR3 || measure.RTMR(4) != "" {
		t.Errorf("RTMR(3), RTMR(4) = %q, %q", measure.RTMR(3), measure.RTMR(4))
	}
}

// TestMeasureErrors: what cannot be measured is an error, and Compute stops
// at it.
func TestMeasureErrors(t *testing.T) {
	noSEV, err := ovmf.Parse(ovmftest.MustTDVFImage(ovmftest.TDVF{Size: 1 << 20}))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		launch  measure.Launch
		boot    *measure.Boot
		wantErr string
	}{
		{"nil", nil, nil, "launch is nil"},
		{"no SEV metadata", measure.SNP{VCPUs: 1}, nil, "no SEV metadata"},
		{"zero vCPUs", measure.SEVES{}, nil, "vCPU count 0"},
		{"no memory", measure.TDX{}, nil, "memory size is 0"},
		{"NUL in command line", measure.TDX{Memory: 1 << 30}, &measure.Boot{Cmdline: "a\x00b"}, "NUL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := measure.Compute(noSEV, tc.boot, []measure.Launch{tc.launch, measure.SEV{}}, measure.Options{})
			if res != nil {
				t.Errorf("Compute = %d results with an error", len(res))
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Compute error = %v, want %q", err, tc.wantErr)
			}
		})
	}
	if _, err := measure.NewValue(measure.MRTD, measure.SHA384, make([]byte, 32)); err == nil {
		t.Error("NewValue of 32 bytes as sha384 succeeded")
	}
}
