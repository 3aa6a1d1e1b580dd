//go:build !measure_front

package main

import (
	"bytes"
	"os"
	"testing"
	"unsafe"
)

// TestHugeBuffer: with hugeReads, a large file is read into aligned fresh
// memory, whole and unchanged, with room for readLimit's probe; small
// files and the default (tests, library use) keep the Go heap.
func TestHugeBuffer(t *testing.T) {
	if b := hugeBuffer(8 << 20); b != nil {
		t.Fatal("hugeBuffer without hugeReads")
	}
	hugeReads = true
	t.Cleanup(func() { hugeReads = false })
	if b := hugeBuffer(hugePage - 1); b != nil {
		t.Errorf("hugeBuffer(%d): %d bytes, want nil below one huge page", hugePage-1, len(b))
	}
	for _, size := range []int{hugePage, hugePage + 1, 3<<20 + 5, 4 << 20} {
		b := hugeBuffer(size)
		if len(b) != size || cap(b) <= size {
			t.Fatalf("hugeBuffer(%d): len %d cap %d", size, len(b), cap(b))
		}
		if a := uintptr(unsafe.Pointer(unsafe.SliceData(b))); a%hugePage != 0 {
			t.Errorf("hugeBuffer(%d) at %#x, not huge-page aligned", size, a)
		}
		if bytes.ContainsFunc(b[:cap(b)], func(r rune) bool { return r != 0 }) {
			t.Errorf("hugeBuffer(%d) is not zeroed", size)
		}
		b[0], b[size-1], b[:cap(b)][cap(b)-1] = 1, 2, 3
	}
	want, err := os.ReadFile(trixie)
	if err != nil {
		t.Skip(err)
	}
	got, err := readFirmwareFile(trixie)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("readFirmwareFile into huge pages: %d bytes, differ from os.ReadFile's %d", len(got), len(want))
	}
	// A file that grows past its stat size while read: appended beyond
	// the buffer's length, still whole.
	f, err := os.Open(trixie)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err = readLimit(f, trixie, int64(len(want)), int64(len(want))-4096)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("readLimit with a stale size: %d bytes, %v", len(got), err)
	}
}
