package bzimage

import (
	"bytes"
	"encoding/binary"
	"github.com/measure-cc/measure/ovmf/ovmftest"
	"reflect"
	"strings"
	"testing"
)

// fixture reads a Debian fixture from ../shared/fixtures, skipping the
// test when it is absent.
func fixture(t testing.TB, name string) []byte { return ovmftest.SharedFixture(t, name) }

func TestSetupHeaderLayout(t *testing.T) {
	if got := binary.Size(SetupHeader{}); got != SetupHeaderSize {
		t.Errorf("binary.Size(SetupHeader{}) = %d, want %d", got, SetupHeaderSize)
	}
	// boot.rst: kernel_info_offset, the last field, is at 0x268.
	if SetupHeaderOffset+SetupHeaderSize-4 != 0x268 {
		t.Errorf("kernel_info_offset at %#x, want 0x268", SetupHeaderOffset+SetupHeaderSize-4)
	}
}

// TestSetupHeaderDebianKernel reads the header of the Debian fixture
// (raw-byte facts: "HdrS" protocol 2.15, 64-bit, loadable above 4 GiB).
func TestSetupHeaderDebianKernel(t *testing.T) {
	k := fixture(t, "debian/vmlinuz-6.1.0-56-cloud-amd64")
	h, err := ParseSetupHeader(k)
	if err != nil {
		t.Fatal(err)
	}
	if h.Version != 0x20f || h.XLoadFlags&XLFCanBeLoadedAbove4G == 0 || h.LoadFlags&LoadedHigh == 0 {
		t.Errorf("header protocol %#x xloadflags %#x loadflags %#x, want 0x20f with CAN_BE_LOADED_ABOVE_4G and LOADED_HIGH", h.Version, h.XLoadFlags, h.LoadFlags)
	}
	if !bytes.Equal(h.Marshal(), k[SetupHeaderOffset:SetupHeaderOffset+SetupHeaderSize]) {
		t.Error("Marshal(ParseSetupHeader(k)) differs from the kernel's bytes")
	}
	v := VersionString(k, h)
	rel, err := ParseRelease(v)
	if err != nil || rel != (Release{6, 1}) {
		t.Errorf("kernel release of %q = %v, %v, want 6.1", v, rel, err)
	}
	p, err := Patch(k, LoaderPatch{Below4G: 2 << 30, Cmdline: "console=ttyS0 vga=0x317", HasInitrd: true, InitrdSize: 5000})
	if err != nil {
		t.Fatal(err)
	}
	ph, _ := ParseSetupHeader(p)
	want := *h
	want.TypeOfLoader = qemuLoaderType
	want.LoadFlags |= CanUseHeap
	want.HeapEndPtr = highCmdlineAddr - highRealAddr - 0x200
	want.CmdLinePtr = highCmdlineAddr
	want.VidMode = 0x317
	want.RamdiskImage = uint32(2<<30-qemuACPIDataSize-1-5000) &^ 4095
	want.RamdiskSize = 5000
	if !reflect.DeepEqual(*ph, want) {
		t.Errorf("patched header = %+v, want %+v", *ph, want)
	}
	if !bytes.Equal(p[:SetupHeaderOffset], k[:SetupHeaderOffset]) || !bytes.Equal(p[SetupHeaderOffset+SetupHeaderSize:], k[SetupHeaderOffset+SetupHeaderSize:]) {
		t.Error("Patch changed bytes outside the setup header")
	}
}

func TestPatchErrors(t *testing.T) {
	k := make([]byte, 0x1000)
	copy(k[0x202:], Magic)
	binary.LittleEndian.PutUint16(k[0x206:], 0x20f)
	k[0x211] = LoadedHigh
	tests := []struct {
		name    string
		kernel  []byte
		p       LoaderPatch
		wantErr string
	}{
		{"short", k[:0x100], LoaderPatch{Below4G: 1 << 30}, "too short"},
		{"no magic", make([]byte, 0x1000), LoaderPatch{Below4G: 1 << 30}, "not a Linux bzImage"},
		{"initrd too large", k, LoaderPatch{Below4G: 64 << 20, HasInitrd: true, InitrdSize: 64 << 20}, "initrd of 67108864 bytes is too large"},
		{"bad vga", k, LoaderPatch{Below4G: 1 << 30, Cmdline: "vga=fast"}, "invalid vga="},
		{"tiny memory", k, LoaderPatch{Below4G: 4096}, "too little to boot"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Patch(tc.kernel, tc.p)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Patch error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseRelease(t *testing.T) {
	tests := []struct {
		in      string
		want    Release
		wantErr bool
	}{
		{"6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP", Release{6, 1}, false},
		{"6.12.0-tdxtest", Release{6, 12}, false},
		{"6", Release{}, true},
		{"v6.1", Release{}, true},
		{"", Release{}, true},
	}
	for _, tc := range tests {
		got, err := ParseRelease(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseRelease(%q) = %v, %v, want %v (error %v)", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
	if !(Release{6, 9}).AtLeast(6, 9) || (Release{6, 8}).AtLeast(6, 9) || !(Release{7, 0}).AtLeast(6, 9) {
		t.Error("Release.AtLeast is wrong around 6.9")
	}
}

// FuzzSetupHeader: hostile kernels never panic; an accepted header
// survives a round trip, and its version string stays inside the setup code.
func FuzzSetupHeader(f *testing.F) {
	k := make([]byte, 0x800)
	copy(k[SetupHeaderOffset+0x11:], Magic)
	binary.LittleEndian.PutUint16(k[0x206:], 0x20f)
	binary.LittleEndian.PutUint16(k[0x20e:], 0x100)
	copy(k[0x300:], "6.12.0-fuzz")
	f.Add(k)
	f.Add([]byte("MZ"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseSetupHeader(b)
		if err != nil {
			return
		}
		back, err := ParseSetupHeader(append(bytes.Clone(b[:SetupHeaderOffset]), h.Marshal()...))
		if err != nil || *back != *h {
			t.Fatalf("round trip = %+v, %v, want %+v", back, err, h)
		}
		if v := VersionString(b, h); len(v) > 256 {
			t.Fatalf("version string of %d bytes", len(v))
		}
		_, _ = Patch(b, LoaderPatch{Below4G: 1 << 30, Cmdline: "vga=ask", HasInitrd: true, InitrdSize: 1 << 20})
	})
}
