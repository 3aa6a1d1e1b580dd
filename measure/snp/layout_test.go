package snp

import (
	"bytes"
	"encoding/binary"
	"testing"
	"unsafe"
)

func TestLayoutSizes(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		want int
	}{
		{"VMSA", VMSA{}, 4096},
		{"SegmentRegister", SegmentRegister{}, 16},
		{"pageInfo", pageInfo{}, 0x70},
		{"SEVHashTableEntry", SEVHashTableEntry{}, 50},
		{"SEVHashTable", SEVHashTable{}, 168},
	} {
		if got := binary.Size(tc.v); got != tc.want {
			t.Errorf("binary.Size(%s) = %d, want %d", tc.name, got, tc.want)
		}
	}
	if paddedHashTableSize != 176 {
		t.Errorf("paddedHashTableSize = %d, want 176 (QEMU PaddedSevHashTable)", paddedHashTableSize)
	}
}

// TestVMSAOffsets checks field offsets against AMD64 APM Vol. 2 Table B-4
// (and the BUILD_BUG_ON offsets of struct sev_es_save_area in Linux).
// The struct has no implicit padding, so Go's offsets are the encoded ones.
func TestVMSAOffsets(t *testing.T) {
	var v VMSA
	for _, tc := range []struct {
		name      string
		got, want uintptr
	}{
		{"ES", unsafe.Offsetof(v.ES), 0x000},
		{"CS", unsafe.Offsetof(v.CS), 0x010},
		{"LDTR", unsafe.Offsetof(v.LDTR), 0x070},
		{"TR", unsafe.Offsetof(v.TR), 0x090},
		{"VMPL", unsafe.Offsetof(v.VMPL), 0x0ca},
		{"EFER", unsafe.Offsetof(v.EFER), 0x0d0},
		{"XSS", unsafe.Offsetof(v.XSS), 0x140},
		{"CR4", unsafe.Offsetof(v.CR4), 0x148},
		{"CR0", unsafe.Offsetof(v.CR0), 0x158},
		{"DR7", unsafe.Offsetof(v.DR7), 0x160},
		{"DR6", unsafe.Offsetof(v.DR6), 0x168},
		{"RFLAGS", unsafe.Offsetof(v.RFLAGS), 0x170},
		{"RIP", unsafe.Offsetof(v.RIP), 0x178},
		{"RSP", unsafe.Offsetof(v.RSP), 0x1d8},
		{"RAX", unsafe.Offsetof(v.RAX), 0x1f8},
		{"CR2", unsafe.Offsetof(v.CR2), 0x240},
		{"GPAT", unsafe.Offsetof(v.GPAT), 0x268},
		{"PKRU", unsafe.Offsetof(v.PKRU), 0x2e8},
		{"RCX", unsafe.Offsetof(v.RCX), 0x308},
		{"RDX", unsafe.Offsetof(v.RDX), 0x310},
		{"RBP", unsafe.Offsetof(v.RBP), 0x328},
		{"R15", unsafe.Offsetof(v.R15), 0x378},
		{"GuestExitInfo1", unsafe.Offsetof(v.GuestExitInfo1), 0x390},
		{"SEVFeatures", unsafe.Offsetof(v.SEVFeatures), 0x3b0},
		{"VIntrCtrl", unsafe.Offsetof(v.VIntrCtrl), 0x3b8},
		{"XCR0", unsafe.Offsetof(v.XCR0), 0x3e8},
		{"X87DP", unsafe.Offsetof(v.X87DP), 0x400},
		{"MXCSR", unsafe.Offsetof(v.MXCSR), 0x408},
		{"X87FTW", unsafe.Offsetof(v.X87FTW), 0x40c},
		{"X87FCW", unsafe.Offsetof(v.X87FCW), 0x410},
		{"X87RIP", unsafe.Offsetof(v.X87RIP), 0x418},
		{"FPRegX87", unsafe.Offsetof(v.FPRegX87), 0x420},
		{"FPRegXMM", unsafe.Offsetof(v.FPRegXMM), 0x470},
		{"FPRegYMM", unsafe.Offsetof(v.FPRegYMM), 0x570},
	} {
		if tc.got != tc.want {
			t.Errorf("offset of VMSA.%s = %#x, want %#x", tc.name, tc.got, tc.want)
		}
	}
	if unsafe.Sizeof(v) != 4096 {
		t.Errorf("unsafe.Sizeof(VMSA{}) = %d, want 4096", unsafe.Sizeof(v))
	}
}

// TestVMSABytes checks the encoded page at the offsets that matter, for the
// QEMU BSP: values a reader can check against KVM's reset state.
func TestVMSABytes(t *testing.T) {
	page := newVMSA(vmsaParams{eip: bspEIP, bsp: true, vcpuSig: 0x800f12, sevFeatures: 1, state: profiles[0].State}).Marshal()
	u16 := func(off int) uint64 { return uint64(binary.LittleEndian.Uint16(page[off:])) }
	u32 := func(off int) uint64 { return uint64(binary.LittleEndian.Uint32(page[off:])) }
	u64 := func(off int) uint64 { return binary.LittleEndian.Uint64(page[off:]) }
	for _, tc := range []struct {
		name      string
		got, want uint64
	}{
		{"cs.selector", u16(0x10), 0xf000},
		{"cs.attrib", u16(0x12), 0x9b},
		{"cs.limit", u32(0x14), 0xffff},
		{"cs.base", u64(0x18), 0xffff0000},
		{"ss.attrib", u16(0x22), 0x93},
		{"ldtr.attrib", u16(0x72), 0x82},
		{"tr.attrib", u16(0x92), 0x8b},
		{"efer", u64(0xd0), 0x1000},
		{"cr4", u64(0x148), 0x40},
		{"cr0", u64(0x158), 0x10},
		{"dr7", u64(0x160), 0x400},
		{"dr6", u64(0x168), 0xffff0ff0},
		{"rflags", u64(0x170), 0x2},
		{"rip", u64(0x178), 0xfff0},
		{"g_pat", u64(0x268), 0x0007040600070406},
		{"rdx", u64(0x310), 0x800f12},
		{"sev_features", u64(0x3b0), 1},
		{"xcr0", u64(0x3e8), 1},
		{"mxcsr", u32(0x408), 0x1f80},
		{"x87_fcw", u16(0x410), 0x37f},
	} {
		if tc.got != tc.want {
			t.Errorf("VMSA %s = %#x, want %#x", tc.name, tc.got, tc.want)
		}
	}
}

// TestPageInfoFastPath checks that gctx.update's hand-placed bytes equal the
// encoding of the typed PAGE_INFO structure.
func TestPageInfoFastPath(t *testing.T) {
	var g gctx
	for i := range g.ld {
		g.ld[i] = byte(i)
	}
	var contents [48]byte
	for i := range contents {
		contents[i] = byte(0xa0 + i)
	}
	want := pageInfo{DigestCur: g.ld, Contents: contents, Length: 0x70, PageType: PageCPUID, GPA: 0x80e000}
	var buf bytes.Buffer
	if err := binary.Write(&buf, binary.LittleEndian, want); err != nil {
		t.Fatal(err)
	}
	g.update(PageCPUID, 0x80e000, &contents)
	if !bytes.Equal(g.buf[:], buf.Bytes()) {
		t.Errorf("PAGE_INFO bytes = %x, want %x", g.buf[:], buf.Bytes())
	}
}

func TestHashTableLayout(t *testing.T) {
	kh := &KernelHashes{}
	for i := range kh.Kernel {
		kh.Kernel[i], kh.Initrd[i], kh.Cmdline[i] = 0x11, 0x22, 0x33
	}
	tbl := kh.Table()
	if len(tbl) != 176 {
		t.Fatalf("len(Table()) = %d, want 176", len(tbl))
	}
	// Header GUID 9438d606-4f22-4cc9-b479-a793d411fd21 in on-disk order,
	// then the unpadded length 168.
	wantHead := []byte{0x06, 0xd6, 0x38, 0x94, 0x22, 0x4f, 0xc9, 0x4c, 0xb4, 0x79, 0xa7, 0x93, 0xd4, 0x11, 0xfd, 0x21, 168, 0}
	if !bytes.Equal(tbl[:18], wantHead) {
		t.Errorf("table header = %x, want %x", tbl[:18], wantHead)
	}
	// Entries: cmdline, initrd, kernel, each GUID + length 50 + hash.
	for i, fill := range []byte{0x33, 0x22, 0x11} {
		e := tbl[18+50*i : 18+50*(i+1)]
		if binary.LittleEndian.Uint16(e[16:]) != 50 || e[18] != fill || e[49] != fill {
			t.Errorf("entry %d = %x, want length 50 and hash bytes %#x", i, e, fill)
		}
	}
	if !bytes.Equal(tbl[168:], make([]byte, 8)) {
		t.Errorf("padding = %x, want zeros", tbl[168:])
	}
}

// TestHashesSection checks the sparse hashing of a kernel-hashes section
// against hashing the whole zeroed section with the table copied in.
func TestHashesSection(t *testing.T) {
	kh := &KernelHashes{Kernel: [32]byte{1}, Initrd: [32]byte{2}, Cmdline: [32]byte{3}}
	for _, tc := range []struct {
		name   string
		size   uint32
		offset int
	}{
		{"one page", 0x1000, 0xc00},
		{"three pages", 0x3000, 0xc00},
		{"table at page start", 0x2000, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			head := append(make([]byte, tc.offset), kh.Table()...)
			var got, want gctx
			got.hashesSection(0x810000, tc.size, head)
			full := make([]byte, tc.size)
			copy(full, head)
			want.normalPages(0x810000, full)
			if got.ld != want.ld {
				t.Errorf("hashesSection = %s, want %s", got.ld, want.ld)
			}
		})
	}
}
