package export_test

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/google/go-sev-guest/kds"
	checkpb "github.com/google/go-sev-guest/proto/check"
	"github.com/google/go-sev-guest/validate"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"

	"github.com/measure-cc/measure/export"
	"github.com/measure-cc/measure/provenance"
)

// TestSEVGuestCheckAsGoSEVGuestReadsIt: the check configuration, in both
// encodings, parses with go-sev-guest v0.15.0's own check.Config (as its
// check tool parses a .textproto with prototext), converts with its
// validate.PolicyToOptions, and holds the MEASUREMENT and the policy given.
func TestSEVGuestCheckAsGoSEVGuestReadsIt(t *testing.T) {
	k := newKey(t, provenance.Ed25519)
	rv := snpValues()
	one, err := export.Select(&rv, map[string]string{"vcpus": "4"})
	if err != nil {
		t.Fatal(err)
	}
	src := source(t, *one, k)
	vmpl := uint32(0)
	tcb, err := export.ParseTCBVersion("bl=10,tee=0,snp=25,ucode=84")
	if err != nil {
		t.Fatal(err)
	}
	policy := export.CheckPolicy{GuestPolicy: 0x30000, MinimumTCB: tcb, VMPL: &vmpl, ProductLine: "Genoa"}
	for _, f := range []export.Format{export.SEVGuestCheck, export.SEVGuestCheckJSON} {
		t.Run(string(f), func(t *testing.T) {
			b, err := export.Export(src, f, export.Options{Check: policy})
			if err != nil {
				t.Fatal(err)
			}
			cfg := &checkpb.Config{}
			if f == export.SEVGuestCheck {
				err = prototext.Unmarshal(b, cfg)
			} else {
				err = protojson.Unmarshal(b, cfg)
			}
			if err != nil {
				t.Fatalf("go-sev-guest check.Config: %v\n%s", err, b)
			}
			opts, err := validate.PolicyToOptions(cfg.GetPolicy())
			if err != nil {
				t.Fatalf("validate.PolicyToOptions: %v", err)
			}
			if got := hex.EncodeToString(opts.Measurement); got != snpM4 {
				t.Errorf("Measurement %s, want %s", got, snpM4)
			}
			want := kds.TCBParts{BlSpl: 10, TeeSpl: 0, SnpSpl: 25, UcodeSpl: 84}
			if opts.MinimumTCB != want {
				t.Errorf("MinimumTCB %+v, want %+v", opts.MinimumTCB, want)
			}
			if !opts.GuestPolicy.SMT || opts.GuestPolicy.Debug || opts.GuestPolicy.MigrateMA {
				t.Errorf("GuestPolicy %+v, want SMT only", opts.GuestPolicy)
			}
			if opts.VMPL == nil || *opts.VMPL != 0 {
				t.Errorf("VMPL %v, want 0", opts.VMPL)
			}
			if got := cfg.GetRootOfTrust().GetProductLine(); got != "Genoa" {
				t.Errorf("product line %q, want Genoa", got)
			}
		})
	}
}

// TestSEVGuestCheckDefaults: with no policy given the configuration holds
// the check tool's own default guest policy, and nothing else but the
// MEASUREMENT.
func TestSEVGuestCheckDefaults(t *testing.T) {
	rv := snpValues()
	rv.Values = rv.Values[:1]
	b, err := export.WriteSEVGuestCheck(&rv, export.CheckPolicy{}, false)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &checkpb.Config{}
	if err := prototext.Unmarshal(b, cfg); err != nil {
		t.Fatal(err)
	}
	p := cfg.GetPolicy()
	if p.GetPolicy() != 1<<17 || p.GetMinimumTcb() != 0 || p.GetVmpl() != nil || cfg.GetRootOfTrust() != nil {
		t.Errorf("policy %v, root of trust %v; want policy 0x20000 alone", p, cfg.GetRootOfTrust())
	}
	if !strings.Contains(string(b), `# configuration vmmType="qemu" vcpus="1"`) {
		t.Errorf("the comment does not name the configuration:\n%s", b)
	}
	for _, bad := range []export.CheckPolicy{{GuestPolicy: 0x10000}, {GuestPolicy: 1<<17 | 1<<40}, {VMPL: new(uint32(4))}, {ProductLine: "Rome"}} {
		if _, err := export.WriteSEVGuestCheck(&rv, bad, false); err == nil {
			t.Errorf("WriteSEVGuestCheck(%+v) succeeded", bad)
		}
	}
}

// TestParseTCBVersion composes TCB_VERSIONs as go-sev-guest's
// kds.ComposeTCBParts does.
func TestParseTCBVersion(t *testing.T) {
	tests := []struct {
		in      string
		parts   kds.TCBParts
		wantErr string
	}{
		{"bl=3,tee=0,snp=8,ucode=115", kds.TCBParts{BlSpl: 3, SnpSpl: 8, UcodeSpl: 115}, ""},
		{"snp=22", kds.TCBParts{SnpSpl: 22}, ""},
		{"ucode=255,bootloader=127,microcode=254", kds.TCBParts{BlSpl: 127, UcodeSpl: 254}, ""},
		{"0x7308000000000003", kds.TCBParts{BlSpl: 3, SnpSpl: 8, UcodeSpl: 115}, ""},
		{"snp=128", kds.TCBParts{}, "want 0..127"},
		{"fmc=1,snp=2", kds.TCBParts{}, "Turin"},
		{"x=1", kds.TCBParts{}, "want bl, tee, snp or ucode"},
		{"bl=256", kds.TCBParts{}, "want NAME=0..255"},
		{"latest", kds.TCBParts{}, "TCB_VERSION number"},
	}
	for _, tc := range tests {
		got, err := export.ParseTCBVersion(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseTCBVersion(%q) = %v, want error %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		want, err2 := kds.ComposeTCBParts(tc.parts)
		if err != nil || err2 != nil || got != uint64(want) {
			t.Errorf("ParseTCBVersion(%q) = %#x, %v; go-sev-guest composes %#x (%v)", tc.in, got, err, uint64(want), err2)
		}
	}
}
