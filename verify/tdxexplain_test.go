package verify_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/measure-cc/measure/measure"
	"github.com/measure-cc/measure/measure/tdx"
	"github.com/measure-cc/measure/measure/tdx/tdxtest"
	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/ovmf/ovmftest"
	"github.com/measure-cc/measure/verify"
)

// quotedRegisters are the registers of a quote with mrtd and rtmrs.
func quotedRegisters(mrtd tdx.Digest, rtmrs [4]tdx.Digest) []verify.Register {
	regs := []verify.Register{{Name: "MRTD", Value: mrtd[:]}}
	for i, r := range rtmrs {
		regs = append(regs, verify.Register{Name: "RTMR" + string(rune('0'+i)), Value: r[:]})
	}
	return regs
}

// TestExplainTDXNothingPredicted: with an event log, a launch whose RTMRs
// cannot be predicted (a --kernel that is not a bzImage) explains
// nothing, even though MRTD is found: the log was compared with nothing.
func TestExplainTDXNothingPredicted(t *testing.T) {
	fw, err := os.ReadFile("../testdata/fixtures/trixie-OVMF.fd")
	if err != nil {
		t.Fatal(err)
	}
	img, err := ovmf.Parse(fw)
	if err != nil {
		t.Fatal(err)
	}
	pred := tdxPrediction(t, "console=ttyS0 root=/dev/vda")
	log := synthLog(t, pred.Events)
	quoted := quotedRegisters(pred.MRTD, log.Replay())
	initrd, err := measure.HashBlob(strings.NewReader("initrd"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		kernel    []byte
		explained bool
		wantErr   error
	}{
		{"the kernel of the log", tdxtest.BzImage("6.12.0-tdxtest"), true, nil},
		{"not a kernel", make([]byte, 4096), false, verify.ErrNotPredicted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			boot := &measure.Boot{Kernel: tc.kernel, Initrd: initrd, Cmdline: "console=ttyS0 root=/dev/vda"}
			x, err := verify.ExplainTDX(img, boot, quoted, log, verify.TDXSpace{QEMU: []tdx.QEMUVersion{{Major: 10, Minor: 2}}})
			if !errors.Is(err, tc.wantErr) || tc.wantErr == nil && err != nil {
				t.Fatalf("ExplainTDX: %v, want %v", err, tc.wantErr)
			}
			if x == nil {
				t.Fatal("ExplainTDX returned no explanation")
			}
			if len(x.Found) == 0 {
				t.Fatalf("MRTD %s not found", pred.MRTD)
			}
			if got := x.Explained(); got != tc.explained {
				t.Errorf("Explained() = %t, want %t (comparison %v)", got, tc.explained, x.Comparison != nil)
			}
			if !tc.explained && (x.Comparison != nil || !strings.Contains(err.Error(), "bzImage")) {
				t.Errorf("comparison %v, error %v: want none, and the prediction's error", x.Comparison, err)
			}
		})
	}
}

// TestExplainTDXLogHOBMatchesNone: an event log whose TD HOB event is that
// of no memory size tried (a VMM that lays the HOB out otherwise) does not
// narrow the MRTD search to no size at all.
func TestExplainTDXLogHOBMatchesNone(t *testing.T) {
	const size = 1 << 20
	secs := ovmftest.TDVFSections(size)
	for i := range secs {
		if secs[i].Type == ovmf.TDVFSectionTDHOB {
			secs[i].Attributes = ovmf.TDVFAttrMRExtend
		}
	}
	img, err := ovmf.Parse(ovmftest.MustTDVFImage(ovmftest.TDVF{Size: size, Sections: secs}))
	if err != nil {
		t.Fatal(err)
	}
	l := measure.DefaultTDX()
	l.Memory = 2 << 30
	r, err := measure.NewMeasurer(img, nil, measure.Options{}).Measure(l)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := r.Value(measure.MRTD)
	quoted := []verify.Register{{Name: "MRTD", Value: v.Bytes()}}
	b, err := verify.MarshalCCEventLog([]verify.CCEvent{{MRIndex: 1, Type: verify.EvEFIHandoffTables2, Digest: tdx.Digest{1}, Data: []byte("x")}})
	if err != nil {
		t.Fatal(err)
	}
	log, err := verify.ParseCCEventLog(b)
	if err != nil {
		t.Fatal(err)
	}
	without, err := verify.ExplainTDX(img, nil, quoted, nil, verify.TDXSpace{})
	if err != nil {
		t.Fatalf("without a log: %v", err)
	}
	x, err := verify.ExplainTDX(img, nil, quoted, log, verify.TDXSpace{})
	if errors.Is(err, verify.ErrNoConfiguration) {
		t.Fatalf("with a log whose TD HOB matches no size: %v", err)
	}
	if x.LogTDHOB == nil || *x.LogTDHOB != (tdx.Digest{1}) || len(x.LogMemories) != 0 {
		t.Errorf("LogTDHOB %v, LogMemories %v: want the log's digest, no size", x.LogTDHOB, x.LogMemories)
	}
	if x.Searched != without.Searched || len(x.Found) != 1 || x.Found[0].Memory != 2<<30 {
		t.Errorf("searched %d, found %+v; want %d searched as without a log, and 2 GiB found", x.Searched, x.Found, without.Searched)
	}
}
