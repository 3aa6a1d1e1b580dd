package varstore

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readFixture(t testing.TB, paths ...string) []byte {
	t.Helper()
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			return b
		}
	}
	t.Skipf("fixture %v not found", paths)
	return nil
}

// TestParseDebianVars reads Debian's variable stores: the fresh
// OVMF_VARS_4M.fd holds no variable; the .ms.fd one has PK, KEK, db and dbx
// enrolled (the Debian package's description of the file).
func TestParseDebianVars(t *testing.T) {
	fresh := readFixture(t, filepath.Join("..", "..", "testdata", "fixtures", "trixie-OVMF_VARS_4M.fd"))
	vars, err := Parse(fresh)
	if err != nil || len(vars) != 0 {
		t.Errorf("Parse(trixie-OVMF_VARS_4M.fd) = %d variables, %v, want none", len(vars), err)
	}
	ms := readFixture(t, filepath.Join("..", "..", "..", "shared", "fixtures", "debian", "trixie-OVMF_VARS_4M.ms.fd"))
	vars, err = Parse(ms)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []struct {
		vendor [16]byte
		name   string
	}{{GlobalVariableGUID, "PK"}, {GlobalVariableGUID, "KEK"}, {ImageSecurityDatabaseGUID, "db"}, {ImageSecurityDatabaseGUID, "dbx"}} {
		if d, ok := Lookup(vars, v.vendor, v.name); !ok || len(d) == 0 {
			t.Errorf("trixie-OVMF_VARS_4M.ms.fd: %s is missing or empty", v.name)
		}
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	in := []Variable{
		{Vendor: GlobalVariableGUID, Name: "PK", Attributes: 0x27, Data: []byte("pk")},
		{Vendor: SecureBootEnableGUID, Name: "SecureBootEnable", Attributes: 0x3, Data: []byte{1}},
		{Vendor: ImageSecurityDatabaseGUID, Name: "db", Data: bytes.Repeat([]byte{7}, 101)},
		{Vendor: GlobalVariableGUID, Name: "PK", Data: []byte("later")},
	}
	b, err := Marshal(in, 0x4000)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("Parse(Marshal(vars)) = %+v, want %+v", out, in)
	}
	if d, _ := Lookup(out, GlobalVariableGUID, "PK"); string(d) != "later" {
		t.Errorf("Lookup(PK) = %q, want the later copy", d)
	}
	if _, err := Marshal(in, 0x1000-1); err == nil {
		t.Error("Marshal into 4095 bytes succeeded")
	}
	if _, err := Marshal([]Variable{{Name: "big", Data: make([]byte, 0x1000)}}, 0x1000); err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Errorf("Marshal of an oversized variable: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	good, err := Marshal([]Variable{{Vendor: GlobalVariableGUID, Name: "PK", Data: []byte("pk")}}, 0x1000)
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(b []byte)) []byte { b := bytes.Clone(good); f(b); return b }
	tests := []struct {
		name    string
		fv      []byte
		wantErr string
	}{
		{"empty", nil, "no firmware volume header"},
		{"bad header length", mutate(func(b []byte) { b[fvHeaderLengthOffset+1] = 0xff }), "past the"},
		{"unknown format", mutate(func(b []byte) { b[fvHeaderLength] ^= 1 }), "format GUID"},
		{"store too large", mutate(func(b []byte) { b[fvHeaderLength+storeSizeOffset+2] = 1 }), "size"},
		{"variable too large", mutate(func(b []byte) { b[fvHeaderLength+storeHeaderSize+authNameSizeOff+4+2] = 1 }), "run past the store"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse(tc.fv); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Parse error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// FuzzParse: hostile stores never panic; the variables of an accepted one
// survive Marshal and Parse.
func FuzzParse(f *testing.F) {
	seed, _ := Marshal([]Variable{{Vendor: GlobalVariableGUID, Name: "PK", Data: []byte("pk")}}, 0x1000)
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		vars, err := Parse(b)
		if err != nil {
			return
		}
		for _, v := range vars {
			if strings.ContainsRune(v.Name, '\uFFFD') || strings.ContainsRune(v.Name, 0) {
				return // names that are not valid UTF-16 do not survive decoding
			}
		}
		need := fvHeaderLength + storeHeaderSize
		for _, v := range vars {
			need += authHeaderSize + 2*len(v.Name) + 2 + len(v.Data) + align
		}
		m, err := Marshal(vars, (need/0x1000+1)*0x1000)
		if err != nil {
			t.Fatalf("Marshal of %d parsed variables: %v", len(vars), err)
		}
		back, err := Parse(m)
		if err != nil || len(back) != len(vars) {
			t.Fatalf("round trip: %d variables, %v, want %d", len(back), err, len(vars))
		}
		for i := range vars {
			if back[i].Name != vars[i].Name || back[i].Vendor != vars[i].Vendor || !bytes.Equal(back[i].Data, vars[i].Data) || back[i].Attributes != vars[i].Attributes {
				t.Fatalf("round trip of variable %d = %+v, want %+v", i, back[i], vars[i])
			}
		}
	})
}
