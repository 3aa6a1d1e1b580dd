package ovmf

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
)

// GUID is an EFI GUID in its on-disk byte order: the first three fields are
// little-endian, the last eight bytes are stored as written (UEFI spec,
// Appendix A, EFI_GUID). This "mixed-endian" order is what firmware images,
// the OVMF footer table and the SEV hashes table contain.
type GUID [16]byte

// ParseGUID parses the canonical text form
// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" into on-disk byte order.
func ParseGUID(s string) (GUID, error) {
	var g GUID
	parts := strings.Split(s, "-")
	if len(parts) != 5 || len(parts[0]) != 8 || len(parts[1]) != 4 || len(parts[2]) != 4 ||
		len(parts[3]) != 4 || len(parts[4]) != 12 {
		return g, fmt.Errorf("GUID %q: want the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", s)
	}
	b, err := hex.DecodeString(strings.Join(parts, ""))
	if err != nil {
		return g, fmt.Errorf("GUID %q: %w", s, err)
	}
	// Data1 (4 bytes), Data2 and Data3 (2 bytes each) are little-endian on disk.
	binary.LittleEndian.PutUint32(g[0:4], binary.BigEndian.Uint32(b[0:4]))
	binary.LittleEndian.PutUint16(g[4:6], binary.BigEndian.Uint16(b[4:6]))
	binary.LittleEndian.PutUint16(g[6:8], binary.BigEndian.Uint16(b[6:8]))
	copy(g[8:], b[8:])
	return g, nil
}

// MustParseGUID is ParseGUID for constants; it panics on a malformed literal.
func MustParseGUID(s string) GUID {
	g, err := ParseGUID(s)
	if err != nil {
		panic(err)
	}
	return g
}

// String returns the canonical lower-case text form.
func (g GUID) String() string {
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x",
		binary.LittleEndian.Uint32(g[0:4]),
		binary.LittleEndian.Uint16(g[4:6]),
		binary.LittleEndian.Uint16(g[6:8]),
		g[8:10], g[10:16])
}

// MarshalText implements encoding.TextMarshaler with the canonical form.
func (g GUID) MarshalText() ([]byte, error) { return []byte(g.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (g *GUID) UnmarshalText(b []byte) error {
	v, err := ParseGUID(string(b))
	if err != nil {
		return err
	}
	*g = v
	return nil
}
