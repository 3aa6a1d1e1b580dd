package export_test

import (
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"
	cose "github.com/veraison/go-cose"

	"github.com/measure-cc/measure/export"
	"github.com/measure-cc/measure/provenance"
)

// exported returns the fixtures in format f.
func exported(t testing.TB, f export.Format, k testKey) [][]byte {
	var out [][]byte
	for _, rv := range []provenance.ReferenceValues{snpValues(), tdxValues()} {
		b, err := export.Export(source(t, rv, k), f, export.Options{Signer: k.signer})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzReadRVPS: any input either fails or gives values that write back
// to a message that reads the same.
func FuzzReadRVPS(f *testing.F) {
	for _, b := range exported(f, export.RVPS, newKey(f, provenance.Ed25519)) {
		f.Add(b)
	}
	f.Add([]byte(`{"type":"sample","payload":"e30="}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rv, err := export.ReadRVPS(b)
		if err != nil {
			return
		}
		again, err := export.WriteRVPS(rv, nil)
		if err != nil {
			t.Fatalf("WriteRVPS of what ReadRVPS read: %v", err)
		}
		rv2, err := export.ReadRVPS(again)
		if err != nil {
			t.Fatalf("ReadRVPS of what WriteRVPS wrote: %v", err)
		}
		if diff := cmp.Diff(rv, rv2); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

// FuzzReadJSONL: any input either fails or gives values that write back
// to lines that read the same.
func FuzzReadJSONL(f *testing.F) {
	for _, b := range exported(f, export.JSONL, newKey(f, provenance.Ed25519)) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// What Read accepts has no field that prints a line of its own.
		if imp, err := export.Read(b, export.JSONL, export.ReadOptions{AllowUnsigned: true}); err == nil {
			for _, v := range imp.Values.Values {
				c := v.Configuration
				for _, s := range []string{imp.Values.Firmware.Name, c.VMMType, c.VCPUType, c.VCPUSig, c.GuestFeatures, c.Profile, c.PageAddOrder, c.QEMUVersion, c.Memory} {
					if strings.ContainsFunc(s, unicode.IsControl) {
						t.Fatalf("Read accepted a field %q with a control character", s)
					}
				}
			}
		}
		rv, err := export.ReadJSONL(b)
		if err != nil {
			return
		}
		again, err := export.WriteJSONL(rv)
		if err != nil {
			t.Fatalf("WriteJSONL of what ReadJSONL read: %v", err)
		}
		rv2, err := export.ReadJSONL(again)
		if err != nil {
			t.Fatalf("ReadJSONL of what WriteJSONL wrote: %v\n%s", err, again)
		}
		if diff := cmp.Diff(rv, rv2); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

// FuzzReadCoRIM: any input, signed or not, either fails or gives complete
// reference values that validate.
func FuzzReadCoRIM(f *testing.F) {
	k := newKey(f, provenance.ECDSAP256)
	for _, b := range exported(f, export.CoRIM, k) {
		f.Add(b)
		var msg cose.Sign1Message
		if err := msg.UnmarshalCBOR(b); err != nil {
			f.Fatal(err)
		}
		f.Add(msg.Payload)
	}
	for _, p := range []string{"veraison-signed-good-corim.cbor", "veraison-unsigned-good-corim.cbor", "trustee-unsigned-example-corim.cbor"} {
		f.Add(mustRead(f, "testdata/"+p))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, o := range []export.ReadOptions{{Keys: []*provenance.Verifier{k.verifier}}, {AllowUnsigned: true}} {
			imp, err := export.ReadCoRIM(b, o)
			if err != nil {
				continue
			}
			if !imp.Complete {
				t.Fatal("a CoRIM read back is not complete")
			}
			if err := imp.Values.Validate(); err != nil {
				t.Fatalf("a CoRIM read back does not validate: %v", err)
			}
		}
	})
}
