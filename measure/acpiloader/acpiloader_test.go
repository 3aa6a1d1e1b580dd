package acpiloader

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
)

func TestLayout(t *testing.T) {
	if got := binary.Size(Allocate{}); got != EntrySize {
		t.Errorf("binary.Size(Allocate{}) = %d, want %d", got, EntrySize)
	}
}

// TestAllocationsRaw reads an ALLOCATE written byte by byte as QEMU's
// bios_linker_loader_alloc does: command 1 (le32), the name at offset 4,
// alignment (le32) at 60, zone at 64.
func TestAllocationsRaw(t *testing.T) {
	e := make([]byte, 2*EntrySize)
	e[0] = 1
	copy(e[4:], RSDP)
	e[60] = 16
	e[64] = ZoneFSeg
	e[EntrySize] = CommandAddChecksum
	got, err := Allocations(e)
	want := []Allocation{{Offset: 0, File: RSDP, Align: 16, Zone: ZoneFSeg}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Allocations = %+v, %v, want %+v", got, err, want)
	}
}

func TestAllocationsErrors(t *testing.T) {
	unterminated := make([]byte, EntrySize)
	binary.LittleEndian.PutUint32(unterminated, CommandAllocate)
	copy(unterminated[4:], bytes.Repeat([]byte{'a'}, FileNameSize))
	twice, _ := Marshal([]Allocation{{File: Tables}, {File: Tables}})
	tests := []struct {
		name    string
		loader  []byte
		wantErr string
	}{
		{"empty", nil, "want a non-zero multiple of 128"},
		{"ragged", make([]byte, 100), "want a non-zero multiple of 128"},
		{"unterminated name", unterminated, "not NUL-terminated"},
		{"twice", twice, "allocated twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Allocations(tc.loader); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Allocations error = %v, want %q", err, tc.wantErr)
			}
		})
	}
	if _, err := Marshal([]Allocation{{File: strings.Repeat("x", FileNameSize)}}); err == nil {
		t.Error("Marshal of a 56-byte name succeeded")
	}
}

// FuzzAllocations: hostile scripts never panic; accepted allocations
// survive Marshal.
func FuzzAllocations(f *testing.F) {
	seed, _ := Marshal([]Allocation{{File: RSDP, Align: 16, Zone: ZoneFSeg}, {File: Tables, Align: 64, Zone: ZoneHigh}})
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		allocs, err := Allocations(b)
		if err != nil || len(allocs) == 0 {
			return
		}
		m, err := Marshal(allocs)
		if err != nil {
			t.Fatalf("Marshal(Allocations) = %v", err)
		}
		back, err := Allocations(m)
		for i := range back {
			back[i].Offset = allocs[i].Offset
		}
		if err != nil || !reflect.DeepEqual(back, allocs) {
			t.Fatalf("round trip = %+v, %v, want %+v", back, err, allocs)
		}
	})
}
