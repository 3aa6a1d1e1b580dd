package tdx

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"

	"github.com/measure-cc/measure/ovmf"
)

func TestSetupHeaderLayout(t *testing.T) {
	if got := binary.Size(SetupHeader{}); got != SetupHeaderSize {
		t.Errorf("binary.Size(SetupHeader{}) = %d, want %d", got, SetupHeaderSize)
	}
	if got := binary.Size(BiosLinkerLoaderAllocate{}); got != LoaderEntrySize {
		t.Errorf("binary.Size(BiosLinkerLoaderAllocate{}) = %d, want %d", got, LoaderEntrySize)
	}
	if got := binary.Size(UEFIVariableData{}); got != 32 {
		t.Errorf("binary.Size(UEFIVariableData{}) = %d, want 32", got)
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
	if h.Version != 0x20f || h.XLoadFlags&xlfCanBeLoadedAbove4G == 0 || h.LoadFlags&loadFlagLoadedHigh == 0 {
		t.Errorf("header protocol %#x xloadflags %#x loadflags %#x, want 0x20f with CAN_BE_LOADED_ABOVE_4G and LOADED_HIGH", h.Version, h.XLoadFlags, h.LoadFlags)
	}
	if !bytes.Equal(h.Marshal(), k[SetupHeaderOffset:SetupHeaderOffset+SetupHeaderSize]) {
		t.Error("Marshal(ParseSetupHeader(k)) differs from the kernel's bytes")
	}
	v := KernelVersionString(k, h)
	rel, err := ParseKernelRelease(v)
	if err != nil || rel != (KernelRelease{6, 1}) {
		t.Errorf("kernel release of %q = %v, %v, want 6.1", v, rel, err)
	}
	p, err := PatchSetupHeader(k, LoaderPatch{Below4G: 2 << 30, Cmdline: "console=ttyS0 vga=0x317", HasInitrd: true, InitrdSize: 5000})
	if err != nil {
		t.Fatal(err)
	}
	ph, _ := ParseSetupHeader(p)
	want := *h
	want.TypeOfLoader = qemuLoaderType
	want.LoadFlags |= loadFlagCanUseHeap
	want.HeapEndPtr = highCmdlineAddr - highRealAddr - 0x200
	want.CmdLinePtr = highCmdlineAddr
	want.VidMode = 0x317
	want.RamdiskImage = uint32(2<<30-qemuACPIDataSize-1-5000) &^ 4095
	want.RamdiskSize = 5000
	if !reflect.DeepEqual(*ph, want) {
		t.Errorf("patched header = %+v, want %+v", *ph, want)
	}
	if !bytes.Equal(p[:SetupHeaderOffset], k[:SetupHeaderOffset]) || !bytes.Equal(p[SetupHeaderOffset+SetupHeaderSize:], k[SetupHeaderOffset+SetupHeaderSize:]) {
		t.Error("PatchSetupHeader changed bytes outside the setup header")
	}
}

func TestPatchSetupHeaderErrors(t *testing.T) {
	k := make([]byte, 0x1000)
	copy(k[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(k[0x206:], 0x20f)
	k[0x211] = loadFlagLoadedHigh
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
			_, err := PatchSetupHeader(tc.kernel, tc.p)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("PatchSetupHeader error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestAuthenticodeErrors(t *testing.T) {
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
			_, err := AuthenticodeSHA384(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("AuthenticodeSHA384 error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseVersions(t *testing.T) {
	qemu := []struct {
		in      string
		want    QEMUVersion
		patches bool
		order   PageAddOrder
		wantErr bool
	}{
		{"10.2", QEMUVersion{10, 2}, false, SinglePass, false},
		{"10.1.0", QEMUVersion{10, 1}, true, SinglePass, false},
		{"9.2.3", QEMUVersion{9, 2}, true, SinglePass, false},
		{"8.2.2+ds-0ubuntu1", QEMUVersion{8, 2}, true, TwoPass, false},
		{"10", QEMUVersion{}, false, 0, true},
		{"x.y", QEMUVersion{}, false, 0, true},
	}
	for _, tc := range qemu {
		t.Run("qemu "+tc.in, func(t *testing.T) {
			v, err := ParseQEMUVersion(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseQEMUVersion(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
			if err == nil && (v != tc.want || v.PatchesKernelHeader() != tc.patches || v.DefaultPageAddOrder() != tc.order) {
				t.Errorf("ParseQEMUVersion(%q) = %v patches %v order %v, want %v %v %v", tc.in, v, v.PatchesKernelHeader(), v.DefaultPageAddOrder(), tc.want, tc.patches, tc.order)
			}
		})
	}
	edk2 := []struct {
		in      string
		want    EDK2Release
		wantErr bool
	}{
		{"202502", EDK2Release{2025, 2}, false},
		{"edk2-stable202411", EDK2Release{2024, 11}, false},
		{"2022.11", EDK2Release{2022, 11}, false},
		{"2025.02-8+deb13u1", EDK2Release{2025, 2}, false},
		{"2025", EDK2Release{}, true},
		{"202513", EDK2Release{}, true},
	}
	for _, tc := range edk2 {
		t.Run("edk2 "+tc.in, func(t *testing.T) {
			v, err := ParseEDK2Release(tc.in)
			if (err != nil) != tc.wantErr || v != tc.want {
				t.Errorf("ParseEDK2Release(%q) = %v, %v, want %v (error %v)", tc.in, v, err, tc.want, tc.wantErr)
			}
		})
	}
	for _, s := range []string{"single-pass", "two-pass"} {
		o, err := ParsePageAddOrder(s)
		if err != nil || o.String() != s {
			t.Errorf("ParsePageAddOrder(%q) = %v, %v", s, o, err)
		}
	}
	if _, err := ParsePageAddOrder("one-pass"); err == nil {
		t.Error("ParsePageAddOrder(one-pass) succeeded")
	}
	d := Digest{1, 2, 3}
	var back Digest
	if b, _ := d.MarshalText(); back.UnmarshalText(b) != nil || back != d {
		t.Errorf("Digest text round trip = %v, want %v", back, d)
	}
	if _, err := ParseDigest("abc"); err == nil {
		t.Error("ParseDigest(abc) succeeded")
	}
}

func TestTDRAMErrors(t *testing.T) {
	tests := []struct {
		name    string
		secs    []ovmf.TDVFSection
		memory  uint64
		wantErr string
	}{
		{"section above RAM", []ovmf.TDVFSection{{MemoryAddress: 0x800000, MemoryDataSize: 0x1000, Type: ovmf.TDVFSectionTDHOB}}, 4 << 20, "outside guest RAM"},
		{"section across the end of RAM", []ovmf.TDVFSection{{MemoryAddress: 0x3ff000, MemoryDataSize: 0x2000, Type: ovmf.TDVFSectionTempMem}}, 4 << 20, "not inside one RAM range"},
		{"PermMem", []ovmf.TDVFSection{{MemoryAddress: 0x1000, MemoryDataSize: 0x1000, Type: ovmf.TDVFSectionPermMem}}, 4 << 20, "QEMU does not support"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := TDRAM(&ovmf.TDVFMetadata{Sections: tc.secs}, Q35RAM(tc.memory))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("TDRAM error = %v, want %q", err, tc.wantErr)
			}
		})
	}
	if _, err := NewTDHOB(&ovmf.TDVFMetadata{}, nil); err == nil || !strings.Contains(err.Error(), "no TD_HOB section") {
		t.Errorf("NewTDHOB without TD_HOB: %v", err)
	}
	many := make([]RAMRange, 200)
	if _, err := NewTDHOB(&ovmf.TDVFMetadata{Sections: []ovmf.TDVFSection{{MemoryAddress: 0x1000, MemoryDataSize: 0x1000, Type: ovmf.TDVFSectionTDHOB}}}, many); err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Errorf("NewTDHOB overflow: %v", err)
	}
}

func TestQ35RAM(t *testing.T) {
	tests := []struct {
		mib  uint64
		want []RAMRange
	}{
		{512, []RAMRange{{0, 512 << 20, false}}},
		{2815, []RAMRange{{0, 2815 << 20, false}}},
		{2816, []RAMRange{{0, 0x80000000, false}, {1 << 32, 768 << 20, false}}},
		{4096, []RAMRange{{0, 0x80000000, false}, {1 << 32, 2 << 30, false}}},
	}
	for _, tc := range tests {
		if got := Q35RAM(tc.mib << 20); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Q35RAM(%d MiB) = %+v, want %+v", tc.mib, got, tc.want)
		}
	}
}

func TestLoaderFilesErrors(t *testing.T) {
	bad := make([]byte, LoaderEntrySize)
	binary.LittleEndian.PutUint32(bad, loaderCmdAllocate)
	copy(bad[4:], bytes.Repeat([]byte{'a'}, LoaderFileNameSize))
	tests := []struct {
		name    string
		loader  []byte
		wantErr string
	}{
		{"empty", nil, "want a non-zero multiple of 128"},
		{"ragged", make([]byte, 100), "want a non-zero multiple of 128"},
		{"unterminated name", bad, "not NUL-terminated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := LoaderFiles(tc.loader); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("LoaderFiles error = %v, want %q", err, tc.wantErr)
			}
			if _, err := acpiEvents(&ACPITables{Loader: tc.loader}); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("acpiEvents error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// FuzzParseTDHOB: hostile HOB lists never panic, and accepted ones survive
// a round trip.
func FuzzParseTDHOB(f *testing.F) {
	md := &ovmf.TDVFMetadata{Sections: bookwormSections}
	ram, _ := TDRAM(md, Q35RAM(4<<30))
	hob, _ := NewTDHOB(md, ram)
	f.Add(hob.Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseTDHOB(b, 0x809000, 0x2000)
		if err != nil {
			return
		}
		back, err := ParseTDHOB(h.Marshal(), h.Address, h.Size)
		if err != nil || !reflect.DeepEqual(back, h) {
			t.Fatalf("round trip = %+v, %v, want %+v", back, err, h)
		}
	})
}

// FuzzAuthenticode: hostile PE images never panic.
func FuzzAuthenticode(f *testing.F) {
	f.Add([]byte("MZ"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = AuthenticodeSHA384(b)
		_, _ = ParseSetupHeader(b)
	})
}
