package fv

import (
	"bytes"
	"errors"
	"fmt"
)

// Report is the difference between two images: which bytes differ and
// which modules (FFS files, wherever nested) changed, appeared or
// disappeared. It is the tool to reach for when a rebuild does not match.
type Report struct {
	// Identical is true when the two images have the same bytes.
	Identical bool
	// SizeA and SizeB are the image sizes.
	SizeA, SizeB int
	// DiffBytes counts the differing bytes; Ranges are where they are,
	// half-open [start, end) offsets, differences closer than 64 bytes
	// merged (ByteRanges).
	DiffBytes int
	Ranges    [][2]int
	// Changes are the modules that differ (Diff).
	Changes []Change
	// Note says why Changes is empty when neither image holds a firmware
	// volume (a raw blob): then only bytes were compared.
	Note string
}

// rangeGap is how many equal bytes may separate two differences that
// Compare reports as one range.
const rangeGap = 64

// Compare parses two images, opening the LZMA-compressed volumes that OVMF
// nests in FVMAIN_COMPACT (LZMASection), and compares them byte by byte
// and module by module.
func Compare(a, b []byte) (*Report, error) {
	rep := &Report{SizeA: len(a), SizeB: len(b), Identical: bytes.Equal(a, b)}
	if rep.Identical {
		return rep, nil
	}
	rep.Ranges, rep.DiffBytes = ByteRanges(a, b, rangeGap)
	opts := Options{Decompress: LZMASection}
	va, errA := Parse(a, opts)
	vb, errB := Parse(b, opts)
	if errors.Is(errA, ErrNoVolume) && errors.Is(errB, ErrNoVolume) {
		rep.Note = "neither image holds a firmware volume: only bytes were compared"
		return rep, nil
	}
	if err := errors.Join(imageError("first", errA), imageError("second", errB)); err != nil {
		return rep, err
	}
	rep.Changes = Diff(Modules(va), Modules(vb))
	return rep, nil
}

func imageError(which string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s image: %w", which, err)
}
