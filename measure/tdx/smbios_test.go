package tdx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
)

func qemuStructures(t testing.TB, q QEMUSMBIOS) []SMBIOSStructure {
	t.Helper()
	b, err := q.Tables()
	if err != nil {
		t.Fatal(err)
	}
	ss, err := ParseSMBIOSStructures(b)
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// TestQEMUSMBIOSLayout checks the generated structures against QEMU
// 10.2.2's hw/smbios/smbios.c and include/hw/firmware/smbios.h: order,
// type, length (sizeof struct smbios_type_N; type 4 per entry point),
// handle (T*_BASE) and strings (smbios_set_defaults("QEMU", mc->desc,
// mc->name), "CPU%2x", "DIMM %d").
func TestQEMUSMBIOSLayout(t *testing.T) {
	type want struct {
		typ     uint8
		length  int
		handle  uint16
		strings string
	}
	id := uint64(0xbfebfbff000806f8)
	tests := []struct {
		name string
		q    QEMUSMBIOS
		want []want
	}{
		{"pc-q35-10.2, 2G, 4 vCPUs", QEMUSMBIOS{Machine: QEMUVersion{10, 2}, Memory: 2 << 30, SMP: SMP{4, 1, 4, 1}, ProcessorID: id}, []want{
			{1, 0x1b, 0x100, "QEMU|Standard PC (Q35 + ICH9, 2009)|pc-q35-10.2"}, {3, 0x16, 0x300, "QEMU|pc-q35-10.2"},
			{4, 0x2a, 0x400, "CPU 0|QEMU|pc-q35-10.2"}, {16, 0x17, 0x1000, ""}, {17, 0x28, 0x1100, "DIMM 0|QEMU"},
			{19, 0x1f, 0x1300, ""}, {32, 0x0b, 0x2000, ""}, {127, 4, 0x7f00, ""}}},
		{"pc-q35-8.2 (SMBIOS 3.0), 4G, 2 sockets", QEMUSMBIOS{Machine: QEMUVersion{8, 2}, Memory: 4 << 30, SMP: SMP{4, 2, 2, 1}, ProcessorID: id}, []want{
			{1, 0x1b, 0x100, "QEMU|Standard PC (Q35 + ICH9, 2009)|pc-q35-8.2"}, {3, 0x16, 0x300, "QEMU|pc-q35-8.2"},
			{4, 0x30, 0x400, "CPU 0|QEMU|pc-q35-8.2"}, {4, 0x30, 0x401, "CPU 1|QEMU|pc-q35-8.2"}, {16, 0x17, 0x1000, ""}, {17, 0x28, 0x1100, "DIMM 0|QEMU"},
			{19, 0x1f, 0x1300, ""}, {19, 0x1f, 0x1301, ""}, {32, 0x0b, 0x2000, ""}, {127, 4, 0x7f00, ""}}},
		{"pc-q35-9.0, 40G: 16 GiB DIMMs", QEMUSMBIOS{Machine: QEMUVersion{9, 0}, Memory: 40 << 30, SMP: DefaultSMP, ProcessorID: id}, []want{
			{1, 0x1b, 0x100, "QEMU|Standard PC (Q35 + ICH9, 2009)|pc-q35-9.0"}, {3, 0x16, 0x300, "QEMU|pc-q35-9.0"},
			{4, 0x2a, 0x400, "CPU 0|QEMU|pc-q35-9.0"}, {16, 0x17, 0x1000, ""}, {17, 0x28, 0x1100, "DIMM 0|QEMU"}, {17, 0x28, 0x1101, "DIMM 1|QEMU"}, {17, 0x28, 0x1102, "DIMM 2|QEMU"},
			{19, 0x1f, 0x1300, ""}, {19, 0x1f, 0x1301, ""}, {32, 0x0b, 0x2000, ""}, {127, 4, 0x7f00, ""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ss := qemuStructures(t, tc.q)
			var got []want
			for _, s := range ss {
				got = append(got, want{s.Type(), len(s.Formatted), s.Handle(), string(bytes.ReplaceAll(s.StringSet, []byte{0}, []byte("|")))})
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("structures = %v\nwant %v", got, tc.want)
			}
		})
	}
}

// TestQEMUSMBIOSMemoryFields checks types 16, 17 and 19 against the values
// Fraunhofer-AISEC/cmc's independent SMBIOS model asserts
// (tools/mrtool/tcg/smbios_test.go @ aeb5859: Type 17 size encoding, the
// mapped regions of a q35 split, the 0xb0000000 threshold) and QEMU's
// smbios_build_type_16/17/19_table.
func TestQEMUSMBIOSMemoryFields(t *testing.T) {
	u16 := func(b []byte, o int) uint64 { return uint64(binary.LittleEndian.Uint16(b[o:])) }
	u32 := func(b []byte, o int) uint64 { return uint64(binary.LittleEndian.Uint32(b[o:])) }
	tests := []struct {
		memory      uint64
		size, extMB uint64      // type 17 Size, Extended Size
		maxKB       uint64      // type 16 Maximum Capacity
		mapped      [][2]uint64 // type 19 start, end in KiB
	}{
		{1 << 30, 0x0400, 0, 1 << 20, [][2]uint64{{0, 1<<20 - 1}}},
		{4 << 30, 0x1000, 0, 4 << 20, [][2]uint64{{0, 0x1fffff}, {0x400000, 0x5fffff}}},
		{8 << 30, 0x2000, 0, 8 << 20, [][2]uint64{{0, 0x1fffff}, {0x400000, 0x9fffff}}},
		{0xb0000000 - 1<<20, 2815, 0, 2815 << 10, [][2]uint64{{0, 2815<<10 - 1}}},
		{32<<30 - 2<<20, 0x7ffe, 0, (32<<30 - 2<<20) >> 10, [][2]uint64{{0, 0x1fffff}, {0x400000, 0x400000 + (30<<20 - 2<<10) - 1}}},
		{32<<30 - 1<<20, 0x7fff, 0x7fff, (32<<30 - 1<<20) >> 10, [][2]uint64{{0, 0x1fffff}, {0x400000, 0x400000 + (30<<20 - 1<<10) - 1}}},
		{64 << 30, 0x7fff, 64 << 10, 64 << 20, [][2]uint64{{0, 0x1fffff}, {0x400000, 0x400000 + 62<<20 - 1}}},
	}
	for _, tc := range tests {
		t.Run(FormatMemorySize(tc.memory), func(t *testing.T) {
			ss := qemuStructures(t, QEMUSMBIOS{Machine: QEMUVersion{10, 1}, Memory: tc.memory, SMP: DefaultSMP})
			var mapped [][2]uint64
			for _, s := range ss {
				f := s.Formatted
				switch s.Type() {
				case smbiosTypeMemArray:
					if got := u32(f, 0x07); got != tc.maxKB || u16(f, 0x0d) != 1 {
						t.Errorf("type 16 maximum capacity %#x KiB, %d devices, want %#x, 1", got, u16(f, 0x0d), tc.maxKB)
					}
				case smbiosTypeMemDevice:
					if u16(f, 0x0c) != tc.size || u32(f, 0x1c) != tc.extMB {
						t.Errorf("type 17 size %#x, extended %#x, want %#x, %#x", u16(f, 0x0c), u32(f, 0x1c), tc.size, tc.extMB)
					}
				case smbiosTypeMemMapped:
					mapped = append(mapped, [2]uint64{u32(f, 0x04), u32(f, 0x08)})
				}
			}
			if fmt.Sprint(mapped) != fmt.Sprint(tc.mapped) {
				t.Errorf("type 19 ranges %x, want %x", mapped, tc.mapped)
			}
		})
	}
}

// TestOVMFSMBIOSTableAndFilter checks OVMF's additions and the measurement
// filter against SmbiosPlatformDxe.c (type 0: "EDK II"-style strings,
// BiosSegment 0xE800, characteristics 0x08, extension byte 2 0x1C, handle
// 0 from GetAvailableSmbiosHandle), SmbiosDxe.c (end-of-table, handle
// 0xFEFF, 6 bytes) and SmbiosMeasurementDxe.c (type 1 UUID and wake-up
// type, type 4 voltage, current speed and core counts zeroed).
func TestOVMFSMBIOSTableAndFilter(t *testing.T) {
	q := QEMUSMBIOS{Machine: QEMUVersion{10, 2}, Memory: 2 << 30, SMP: SMP{4, 1, 4, 1}, ProcessorID: 0xbfebfbff000806f8}
	qt, err := q.Tables()
	if err != nil {
		t.Fatal(err)
	}
	table, err := OVMFSMBIOSTable(qt, SMBIOSFirmware{Vendor: "EDK II", Version: "", Date: "x"})
	if err != nil {
		t.Fatal(err)
	}
	ss, err := ParseSMBIOSStructures(table)
	if err != nil {
		t.Fatal(err)
	}
	t0, end := ss[len(ss)-2], ss[len(ss)-1]
	if t0.Type() != 0 || t0.Handle() != 0 || len(t0.Formatted) != 0x1a || string(t0.StringSet) != "EDK II\x00unknown\x0002/02/2022" ||
		binary.LittleEndian.Uint16(t0.Formatted[6:]) != 0xe800 || t0.Formatted[0x0a] != 0x08 || t0.Formatted[0x13] != 0x1c || t0.Formatted[0x16] != 0xff {
		t.Errorf("OVMF type 0 = % x %q", t0.Formatted, t0.StringSet)
	}
	if end.Type() != 127 || end.Handle() != 0xfeff || end.Size() != 6 || !bytes.HasSuffix(table, end.Formatted[:4]) && !bytes.HasSuffix(table, []byte{127, 4, 0xff, 0xfe, 0, 0}) {
		t.Errorf("end of table = % x, want 7f 04 ff fe 00 00 last", end.Formatted)
	}
	filtered, err := FilterSMBIOSTable(table)
	if err != nil {
		t.Fatal(err)
	}
	if len(filtered) != len(table) {
		t.Fatalf("filtered table is %d bytes, want %d", len(filtered), len(table))
	}
	fs, _ := ParseSMBIOSStructures(filtered)
	for i, s := range fs {
		orig := ss[i].Formatted
		for o := range s.Formatted {
			zeroed := s.Formatted[o] == 0 && orig[o] != 0
			var want bool
			switch s.Type() {
			case 1:
				want = o == 0x18 // wake-up type 06 (the UUID is zero already)
			case 4:
				want = o == 0x16 || o == 0x17 || o == 0x23 || o == 0x24 || o == 0x25 // current speed 2000, core and thread counts
			}
			if zeroed != want {
				t.Errorf("type %d byte %#x: %#x -> %#x, zeroed %v, want %v", s.Type(), o, orig[o], s.Formatted[o], zeroed, want)
			}
		}
	}
	d, err := SMBIOSDigest(table)
	if err != nil || d != sha384(filtered) {
		t.Errorf("SMBIOSDigest = %s, %v, want SHA-384 of the filtered table", d, err)
	}
}

// TestFilterSMBIOSStrings checks the string and whole-structure rules:
// a listed string is overwritten with spaces and its index zeroed; an OEM
// type is zeroed after its header; types whose filter is not modelled are
// refused.
func TestFilterSMBIOSStrings(t *testing.T) {
	serial := newSMBIOSStructure(1, smbiosType1Len, 0x100, []string{"QEMU", "S/N 42"}, func(f []byte) { f[4], f[7] = 1, 2 })
	oem := newSMBIOSStructure(200, 6, 0x200, []string{"secret"}, func(f []byte) { f[4], f[5] = 0xaa, 1 })
	end := newSMBIOSStructure(127, 4, 0xfeff, nil, func([]byte) {})
	got, err := FilterSMBIOSTable(MarshalSMBIOSStructures([]SMBIOSStructure{serial, oem, end}))
	if err != nil {
		t.Fatal(err)
	}
	// (A filtered table need not parse again: zeroed strings end early.)
	wantT1 := bytes.Clone(serial.Formatted)
	wantT1[7] = 0
	want := append(wantT1, "QEMU\x00      \x00\x00"...)
	want = append(want, 200, 6, 0, 2, 0, 0)
	want = append(want, make([]byte, 6+2)...)
	want = append(want, 127, 4, 0xff, 0xfe, 0, 0)
	if !bytes.Equal(got, want) {
		t.Errorf("filtered = % x\nwant       % x", got, want)
	}
	battery := newSMBIOSStructure(22, 0x1a, 0x300, nil, func([]byte) {})
	if _, err := FilterSMBIOSTable(MarshalSMBIOSStructures([]SMBIOSStructure{battery, end})); err == nil {
		t.Error("FilterSMBIOSTable(type 22) succeeded, want an error")
	}
}

func TestParseSMBIOSStructures(t *testing.T) {
	good := MarshalSMBIOSStructures([]SMBIOSStructure{
		newSMBIOSStructure(1, 8, 1, []string{"a", "bc"}, func([]byte) {}),
		newSMBIOSStructure(127, 4, 2, nil, func([]byte) {}),
	})
	ss, err := ParseSMBIOSStructures(append(bytes.Clone(good), 0xee))
	if err != nil || !bytes.Equal(MarshalSMBIOSStructures(ss), good) {
		t.Fatalf("round trip = % x, %v, want % x", MarshalSMBIOSStructures(ss), err, good)
	}
	if s := ss[0].Strings(); len(s) != 2 || s[1] != "bc" {
		t.Errorf("Strings() = %q", s)
	}
	for name, b := range map[string][]byte{
		"empty":           nil,
		"short header":    {1, 4},
		"length 3":        {1, 3, 0, 0, 0, 0},
		"past the end":    {1, 9, 0, 0, 0, 0},
		"no double NUL":   {1, 4, 0, 0, 'a', 0},
		"no end of table": good[:len(good)-6],
	} {
		if _, err := ParseSMBIOSStructures(b); !errors.Is(err, ErrMalformedSMBIOS) {
			t.Errorf("ParseSMBIOSStructures(%s) error = %v, want ErrMalformedSMBIOS", name, err)
		}
	}
}

func FuzzParseSMBIOSStructures(f *testing.F) {
	q, _ := QEMUSMBIOS{Machine: QEMUVersion{10, 2}, Memory: 4 << 30, SMP: DefaultSMP}.Tables()
	f.Add(q)
	f.Add([]byte{127, 4, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		ss, err := ParseSMBIOSStructures(b)
		if err != nil {
			return
		}
		m := MarshalSMBIOSStructures(ss)
		if !bytes.HasPrefix(b, m) {
			t.Fatalf("marshal of parsed table is not a prefix of the input")
		}
		if f, err := FilterSMBIOSTable(b); err == nil && len(f) != len(m) {
			t.Fatalf("filtered table is %d bytes, want %d", len(f), len(m))
		}
		if o, err := OVMFSMBIOSTable(b, SMBIOSFirmware{}); err == nil {
			if _, err := SMBIOSDigest(o); err != nil && !errors.Is(err, ErrMalformedSMBIOS) {
				t.Logf("digest of OVMF table: %v", err)
			}
		}
	})
}

func TestParseSMPAndProcessorID(t *testing.T) {
	for in, want := range map[string]SMP{
		"1": {1, 1, 1, 1}, "4": {4, 1, 4, 1}, "8,sockets=2": {8, 2, 4, 1}, "sockets=2,cores=2,threads=2": {8, 2, 2, 2}, "cpus=6,threads=2": {6, 1, 3, 2},
	} {
		if got, err := ParseSMP(in); err != nil || got != want {
			t.Errorf("ParseSMP(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "4,sockets=3", "4,dies=2", "x"} {
		if _, err := ParseSMP(bad); err == nil {
			t.Errorf("ParseSMP(%q) succeeded, want an error", bad)
		}
	}
	if id, err := ParseProcessorID("ID: F8 06 08 00 FF FB EB BF"); err != nil || id != 0xbfebfbff000806f8 {
		t.Errorf("ParseProcessorID = %#x, %v, want 0xbfebfbff000806f8", id, err)
	}
	if _, err := ParseProcessorID("F8 06 08"); err == nil {
		t.Error("ParseProcessorID(3 bytes) succeeded, want an error")
	}
}

func TestFwCfgEventData(t *testing.T) {
	b, err := FwCfgEventData("bootorder")
	if err != nil || len(b) != 68 || string(b[:12]) != "QEMU FW CFG\x00" || string(b[12:21]) != "bootorder" || !bytes.Equal(b[21:], make([]byte, 47)) {
		t.Errorf("FwCfgEventData(bootorder) = % x, %v", b, err)
	}
	if _, err := FwCfgEventData(string(make([]byte, 56))); err == nil {
		t.Error("FwCfgEventData(56-byte name) succeeded, want an error")
	}
	ev := fwCfgEvents([]fwCfgItem{{fwCfgBootOrder, []byte("x")}, {"etc/boot-menu-wait", nil}, {fwCfgBootMenu, []byte{1, 0}}})
	if len(ev) != 2 || ev[0].Description != "QEMU FW CFG: BootMenu (2 bytes)" || ev[1].Digest != sha384([]byte("x")) {
		t.Errorf("fwCfgEvents = %v, want BootMenu then bootorder, empty items skipped", ev)
	}
}

func TestSMBIOSStrings(t *testing.T) {
	tests := []struct {
		in   []string
		want SMBIOSFirmware
		ok   bool
	}{
		{[]string{"unknown", "02/02/2022", "EDK II"}, SMBIOSFirmware{Vendor: "EDK II"}, true},
		{[]string{"unknown", "02/02/2022", "09/26/2026", "2026.08+ds-2", "Debian distribution of EDK II"}, SMBIOSFirmware{"Debian distribution of EDK II", "2026.08+ds-2", "09/26/2026"}, true},
		{[]string{"unknown", "02/02/2022", "EDK II", "1.0 custom"}, SMBIOSFirmware{}, false},
		{[]string{"EDK II"}, SMBIOSFirmware{}, false},
	}
	for _, tc := range tests {
		if got, ok := smbiosStrings(tc.in); got != tc.want || ok != tc.ok {
			t.Errorf("smbiosStrings(%q) = %+v, %v, want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
