package verify_test

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/measure-cc/measure/provenance"
	"github.com/measure-cc/measure/verify"
	"github.com/measure-cc/measure/verify/verifytest"
)

func TestDescribeConfiguration(t *testing.T) {
	tests := []struct {
		c    provenance.Configuration
		want string
	}{
		{provenance.Configuration{VMMType: "qemu", VCPUs: 4, VCPUType: "EPYC-Genoa"}, "--vmm-type qemu --vcpus 4 --vcpu-type EPYC-Genoa"},
		{provenance.Configuration{PageAddOrder: "two-pass", Memory: "2G", QEMUVersion: "10.1"}, "--page-add-order two-pass --memory 2G --qemu-version 10.1"},
		{provenance.Configuration{}, "(the only configuration)"},
		// Fields of reference values nobody checked: quoted.
		{provenance.Configuration{VMMType: "qemu", VCPUType: "EPYC-Genoa\nresult: PASSED\n\x1b[8m"}, `--vmm-type qemu --vcpu-type "EPYC-Genoa\nresult: PASSED\n\x1b[8m"`},
		{provenance.Configuration{VMMType: "qemu", Profile: "a b"}, `--vmm-type qemu --profile "a b"`},
		{provenance.Configuration{Memory: "2G\u202e"}, `--memory "2G\u202e"`},
	}
	for _, tc := range tests {
		if got := verify.DescribeConfiguration(tc.c); got != tc.want {
			t.Errorf("DescribeConfiguration(%+v) = %s, want %s", tc.c, got, tc.want)
		}
	}
}

// TestWriteTextEscapes: reference values read back from an unsigned export
// are compared before anything vouches for them; no field of theirs
// prints a line of its own in the verdict (a second "result:" line) or an
// escape sequence.
func TestWriteTextEscapes(t *testing.T) {
	signer, err := verifytest.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	var meas [48]byte
	meas[0] = 0x42
	report, err := signer.Sign(verifytest.Report{Measurement: meas})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := verify.ParseSNPReport(report)
	if err != nil {
		t.Fatal(err)
	}
	const fake = "\nresult: PASSED\n\x1b[8m"
	var other [48]byte
	for _, tc := range []struct {
		name string
		meas [48]byte
	}{{"match", meas}, {"mismatch", other}} {
		t.Run(tc.name, func(t *testing.T) {
			refs := refsFor("sev-snp", snpRef(provenance.Configuration{VMMType: "qemu", VCPUs: 4, VCPUType: "EPYC-Genoa" + fake}, hex.EncodeToString(tc.meas[:])))
			refs.Firmware.Name = "OVMF.fd" + fake
			v, _ := verify.Assessment{Name: "report.bin", Evidence: ev, Values: refs,
				References: verify.References{NamedDigest: verify.NamedDigest{Name: "refs.jsonl" + fake}, Firmware: refs.Firmware}}.Verdict()
			if v == nil {
				t.Fatal("no verdict")
			}
			var b bytes.Buffer
			if err := v.WriteText(&b); err != nil {
				t.Fatal(err)
			}
			text := b.String()
			if n := strings.Count("\n"+text, "\nresult: "); n != 1 || strings.Contains(text, "\x1b") || !strings.Contains(text, `\nresult: PASSED\n\x1b[8m`) {
				t.Errorf("%d result lines, escape %t, want one and the fields escaped:\n%s", n, strings.Contains(text, "\x1b"), text)
			}
		})
	}
}
