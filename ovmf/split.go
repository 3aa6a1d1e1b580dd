package ovmf

import "fmt"

// JoinSplit returns the image QEMU maps for a split firmware, the CODE and
// VARS files given as two pflash devices: unit 0 (CODE) ends at 4 GiB and
// unit 1 (VARS) sits right below it (QEMU hw/i386/pc_sysfw.c,
// pc_system_flash_map), so the contiguous image is VARS followed by CODE.
// That is the image the TDVF metadata of the CODE part describes (its CFV
// section lies in VARS). The result is a new slice; neither input is kept.
func JoinSplit(vars, code []byte) ([]byte, error) {
	if len(vars) == 0 || len(code) == 0 {
		return nil, fmt.Errorf("split firmware: VARS of %d bytes and CODE of %d bytes, want both non-empty", len(vars), len(code))
	}
	if n := int64(len(vars)) + int64(len(code)); n > MaxImageSize {
		return nil, fmt.Errorf("split firmware: VARS and CODE together are %d bytes, more than the %d accepted", n, MaxImageSize)
	}
	out := make([]byte, 0, len(vars)+len(code))
	return append(append(out, vars...), code...), nil
}
