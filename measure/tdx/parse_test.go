package tdx

import (
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/measure-cc/measure/measure/acpiloader"
	"github.com/measure-cc/measure/ovmf"
)

func TestLayouts(t *testing.T) {
	if got := binary.Size(UEFIVariableData{}); got != 32 {
		t.Errorf("binary.Size(UEFIVariableData{}) = %d, want 32", got)
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

func TestACPIEventsErrors(t *testing.T) {
	tests := []struct {
		name    string
		tables  ACPITables
		wantErr string
	}{
		{"empty", ACPITables{}, "want a non-zero multiple of 128"},
		{"missing blob", ACPITables{Loader: mustLoader(t, acpiloader.RSDP)}, `allocates "etc/acpi/rsdp", which is not among the ACPI files given`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := acpiEvents(&tc.tables); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("acpiEvents error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func mustLoader(t testing.TB, files ...string) []byte {
	t.Helper()
	var allocs []acpiloader.Allocation
	for _, f := range files {
		allocs = append(allocs, acpiloader.Allocation{File: f, Align: 64, Zone: acpiloader.ZoneHigh})
	}
	b, err := acpiloader.Marshal(allocs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLoadACPITables reads a dump by fw_cfg names and a flat one by base
// names; a missing blob or an oversized file is an error naming it.
func TestLoadACPITables(t *testing.T) {
	loader := mustLoader(t, acpiloader.RSDP, acpiloader.Tables)
	want := &ACPITables{Loader: loader, Files: map[string][]byte{acpiloader.RSDP: []byte("RSD PTR "), acpiloader.Tables: []byte("DSDT")}}
	byName := fstest.MapFS{
		"etc/table-loader": {Data: loader},
		"etc/acpi/rsdp":    {Data: []byte("RSD PTR ")},
		"etc/acpi/tables":  {Data: []byte("DSDT")},
	}
	flat := fstest.MapFS{
		"table-loader": {Data: loader},
		"rsdp":         {Data: []byte("RSD PTR ")},
		"tables":       {Data: []byte("DSDT")},
	}
	for name, fsys := range map[string]fstest.MapFS{"fw_cfg names": byName, "base names": flat} {
		got, err := LoadACPITables(fsys)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("LoadACPITables(%s) = %+v, %v, want %+v", name, got, err, want)
		}
	}
	delete(flat, "tables")
	if _, err := LoadACPITables(flat); err == nil || !strings.Contains(err.Error(), "etc/acpi/tables") {
		t.Errorf("LoadACPITables without tables: %v, want an error naming etc/acpi/tables", err)
	}
	flat["tables"] = &fstest.MapFile{Data: make([]byte, MaxACPIFileSize+1)}
	if _, err := LoadACPITables(flat); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("LoadACPITables with a huge file: %v", err)
	}
	if _, err := LoadACPITables(fstest.MapFS{}); err == nil || !strings.Contains(err.Error(), "etc/table-loader") {
		t.Errorf("LoadACPITables of an empty directory: %v", err)
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

func TestParseMemorySize(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
	}{
		{"2G", 2 << 30}, {"2048M", 2 << 30}, {"2048", 2 << 30}, {"1T", 1 << 40},
		{"512m", 512 << 20}, {"4GiB", 4 << 30}, {"64K", 64 << 10}, {"2816M", 0xb0000000},
		{"128MB", 128 << 20}, {"4194304K", 4 << 30},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseMemorySize(tc.in)
			if err != nil || got != tc.want {
				t.Errorf("ParseMemorySize(%q) = %d, %v, want %d", tc.in, got, err, tc.want)
			}
			if back, err := ParseMemorySize(FormatMemorySize(got)); err != nil || back != got {
				t.Errorf("ParseMemorySize(FormatMemorySize(%d)) = %d, %v", got, back, err)
			}
		})
	}
	for _, tc := range []struct{ in, wantErr string }{
		{"3x", "want a size such as 2G"}, {"0", "want a size such as 2G"}, {"", "want a size such as 2G"},
		{"1K", "not a multiple of 4 KiB"}, {"5000T", "more than the 4 PiB"}, {"-1G", "want a size"},
	} {
		if _, err := ParseMemorySize(tc.in); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("ParseMemorySize(%q) error = %v, want %q", tc.in, err, tc.wantErr)
		}
	}
	if got := FormatMemorySize(DefaultMemory); got != "128M" {
		t.Errorf("FormatMemorySize(DefaultMemory) = %q, want 128M", got)
	}
}
