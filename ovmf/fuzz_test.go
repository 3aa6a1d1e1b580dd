package ovmf_test

import (
	"testing"

	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/ovmf/ovmftest"
)

// tail returns the last n bytes of a fixture: where everything Parse reads is.
func tail(t testing.TB, name string, n int) []byte {
	b := readFixture(t, name)
	return b[len(b)-n:]
}

func addSeeds(f *testing.F) {
	for _, name := range []string{"bookworm-OVMF.fd", "trixie-OVMF.fd", "bookworm-OVMF_CODE_4M.fd", "trixie-OVMF_CODE_4M.fd"} {
		f.Add(tail(f, name, 4096))
	}
	small := ovmftest.AmdSev()
	small.Size = 4096
	f.Add(small.MustBuild())
	f.Add([]byte{})
}

// pageAlign pads b at the front to a whole number of pages, so that mutated
// tails reach the table parsers instead of failing the size check.
func pageAlign(b []byte) []byte {
	if r := len(b) % ovmf.PageSize; r != 0 || len(b) == 0 {
		return append(make([]byte, ovmf.PageSize-r), b...)
	}
	return b
}

// FuzzParse checks that no input panics Parse, and that what it accepts is
// self-consistent: entries lie inside the image, the table marshals back to
// the same bytes, and the metadata lies inside the image.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ovmf.Parse(data) // any size: must not panic
		data = pageAlign(data)
		img, err := ovmf.Parse(data)
		if err != nil {
			return
		}
		for _, e := range img.Entries() {
			if e.Offset < 0 || e.Offset+int64(len(e.Data)) > int64(len(data)) {
				t.Fatalf("entry %s at %#x+%d outside the %d-byte image", e.GUID, e.Offset, len(e.Data), len(data))
			}
		}
		if entries := img.Entries(); entries != nil {
			table, err := ovmf.MarshalFooterTable(entries)
			if err != nil {
				t.Fatalf("MarshalFooterTable(parsed entries): %v", err)
			}
			end := len(data) - ovmf.BytesAfterFooterTable
			if string(data[end-len(table):end]) != string(table) {
				t.Fatalf("footer table does not round-trip")
			}
		}
		if md := img.SEVMetadata(); md != nil {
			raw := md.Marshal()
			if md.Offset < 0 || md.Offset+int64(len(raw)) > int64(len(data)) {
				t.Fatalf("metadata at %#x+%d outside the image", md.Offset, len(raw))
			}
			_ = md.Validate()
		}
	})
}

// FuzzParseFooterTable fuzzes the table parser alone, at any length.
func FuzzParseFooterTable(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := ovmf.ParseFooterTable(data)
		if err != nil {
			return
		}
		table, err := ovmf.MarshalFooterTable(entries)
		if err != nil {
			t.Fatalf("MarshalFooterTable(parsed entries): %v", err)
		}
		again, err := ovmf.ParseFooterTable(append(append([]byte(nil), table...), make([]byte, ovmf.BytesAfterFooterTable)...))
		if err != nil || len(again) != len(entries) {
			t.Fatalf("re-parse of marshalled table: %d entries, %v; want %d", len(again), err, len(entries))
		}
	})
}
