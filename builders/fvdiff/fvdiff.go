// Package fvdiff says which firmware modules differ between two edk2
// images: it parses both with ovmf/fv, opening the LZMA-compressed volumes
// that OVMF nests in FVMAIN_COMPACT (edk2's LzmaCustomDecompress GUID), and
// lists the FFS files that changed, appeared or disappeared, by GUID, UI name
// and section type. It is the tool to reach for when a rebuild does not match.
//
// It adds to ovmf/fv the comparison and the reports; the parsing and LZMA
// decoding are ovmf/fv's.
package fvdiff

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/ovmf/fv"
)

// LZMAGUID is gLzmaCustomDecompressGuid (edk2 MdeModulePkg.dec).
var LZMAGUID = fv.LZMAGUID

// Decompress opens LZMA GUID-defined sections with ovmf/fv's decoder;
// other GUIDs stay opaque.
func Decompress(guid ovmf.GUID, data []byte) ([]byte, bool, error) {
	return fv.LZMASection(guid, data)
}

// Report is the difference between two images.
type Report struct {
	// Identical is true when the two images have the same bytes.
	Identical bool
	// SizeA and SizeB are the image sizes.
	SizeA, SizeB int
	// DiffBytes counts the differing bytes; Ranges are where they are.
	DiffBytes int
	Ranges    [][2]int
	// Changes are the modules that differ.
	Changes []fv.Change
	// Note says why Changes is empty when the images hold no firmware
	// volume (a raw blob): then only bytes were compared.
	Note string
}

// Compare parses two images and compares them module by module.
func Compare(a, b []byte) (*Report, error) {
	rep := &Report{SizeA: len(a), SizeB: len(b), Identical: bytes.Equal(a, b)}
	if rep.Identical {
		return rep, nil
	}
	rep.Ranges, rep.DiffBytes = fv.ByteRanges(a, b, 64)
	opts := fv.Options{Decompress: Decompress}
	va, errA := fv.Parse(a, opts)
	vb, errB := fv.Parse(b, opts)
	if errors.Is(errA, fv.ErrNoVolume) && errors.Is(errB, fv.ErrNoVolume) {
		rep.Note = "neither image holds a firmware volume: only bytes were compared"
		return rep, nil
	}
	if err := errors.Join(wrap("first", errA), wrap("second", errB)); err != nil {
		return rep, err
	}
	rep.Changes = fv.Diff(fv.Modules(va), fv.Modules(vb))
	return rep, nil
}

func wrap(which string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s image: %w", which, err)
}
