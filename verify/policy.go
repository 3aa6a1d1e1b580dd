package verify

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ReportDataSize is the size of REPORT_DATA (SEV-SNP) and REPORTDATA (TDX).
const ReportDataSize = 64

// Policy is what a tenant requires of the report's other fields. The zero
// Policy disallows debug and checks nothing else.
type Policy struct {
	// AllowDebug accepts a guest the host may debug: SEV-SNP POLICY.DEBUG or
	// TDX TD_ATTRIBUTES.DEBUG. A debuggable guest's memory is readable by
	// the host, so by default it fails.
	AllowDebug bool
	// MinTCB, when set, is the lowest acceptable SEV-SNP TCB: CURRENT_TCB,
	// REPORTED_TCB and COMMITTED_TCB must each be at least it, component by
	// component (TCB.AtLeast: a MinTCB with an FMC component, which only
	// Turin's TCB has, fails every Milan or Genoa report). Only
	// REPORTED_TCB is vouched for by hardware, and only when
	// VerifySNPSignature has checked that the signing certificate is for
	// it (Hardware.CertifiedTCB).
	MinTCB *TCB
	// VMPL, when set, is the VMPL the SEV-SNP report must come from (0 for
	// a guest without an SVSM).
	VMPL *uint32
	// ReportData, when set, must equal the report data; shorter values are
	// padded with zeros to 64 bytes.
	ReportData []byte
	// IDKeyDigest and AuthorKeyDigest, when set, must equal the SEV-SNP
	// report's ID_KEY_DIGEST and AUTHOR_KEY_DIGEST: the guest was launched
	// with an ID block signed by that ID key (endorsed by that author key).
	// KeyDigestPEM computes them from a public key (idkey.go).
	IDKeyDigest, AuthorKeyDigest *[48]byte
}

// Check is the outcome of one policy rule.
type Check struct {
	Name string `json:"name"`
	Got  string `json:"got"`
	Want string `json:"want"`
	OK   bool   `json:"ok"`
}

// ErrPolicyNotApplicable: a rule that the evidence's platform has no field
// for (a TCB or VMPL rule for a TDX quote).
var ErrPolicyNotApplicable = errors.New("policy rule does not apply to this platform")

// CheckPolicy applies p to ev. It returns every check made, and an error
// wrapping ErrPolicy naming the failed ones when any fails.
func CheckPolicy(ev Evidence, p Policy) ([]Check, error) {
	var checks []Check
	var debug bool
	var reportData []byte
	switch e := ev.(type) {
	case *SNPReport:
		debug, reportData = e.Debug(), e.ReportData()
		if p.MinTCB != nil {
			tcbs := e.TCBs()
			names := make([]string, 0, len(tcbs))
			for n := range tcbs {
				if n != "LAUNCH_TCB" {
					names = append(names, n)
				}
			}
			sort.Strings(names)
			for _, n := range names {
				t := tcbs[n]
				checks = append(checks, Check{Name: n, Got: t.String(), Want: wantTCB(*p.MinTCB, t), OK: t.AtLeast(*p.MinTCB)})
			}
		}
		if p.VMPL != nil {
			checks = append(checks, Check{Name: "VMPL", Got: fmt.Sprint(e.VMPL()), Want: fmt.Sprint(*p.VMPL), OK: e.VMPL() == *p.VMPL})
		}
		checks = append(checks, idKeyChecks(e, p)...)
	case *TDXQuote:
		debug, reportData = e.Debug(), e.ReportData()
		if p.MinTCB != nil || p.VMPL != nil {
			return nil, fmt.Errorf("%w: TCB and VMPL rules are SEV-SNP's", ErrPolicyNotApplicable)
		}
		if p.IDKeyDigest != nil || p.AuthorKeyDigest != nil {
			return nil, fmt.Errorf("%w: ID and author key rules are SEV-SNP's", ErrPolicyNotApplicable)
		}
	default:
		return nil, fmt.Errorf("evidence of type %T", ev)
	}
	debugName := "POLICY.DEBUG"
	if ev.Platform() == "tdx" {
		debugName = "TDATTRIBUTES.DEBUG"
	}
	want := "0 (no host debugging)"
	if p.AllowDebug {
		want = "any"
	}
	checks = append([]Check{{Name: debugName, Got: fmt.Sprint(b2i(debug)), Want: want, OK: !debug || p.AllowDebug}}, checks...)
	if p.ReportData != nil {
		if len(p.ReportData) > ReportDataSize {
			return nil, fmt.Errorf("expected report data is %d bytes, want at most %d", len(p.ReportData), ReportDataSize)
		}
		wantRD := make([]byte, ReportDataSize)
		copy(wantRD, p.ReportData)
		checks = append(checks, Check{Name: "REPORT_DATA", Got: hex.EncodeToString(reportData), Want: hex.EncodeToString(wantRD), OK: bytes.Equal(reportData, wantRD)})
	}
	var failed []string
	for _, c := range checks {
		if !c.OK {
			failed = append(failed, fmt.Sprintf("%s is %s, want %s", c.Name, c.Got, c.Want))
		}
	}
	if len(failed) > 0 {
		return checks, fmt.Errorf("%w: %s", ErrPolicy, strings.Join(failed, "; "))
	}
	return checks, nil
}

// wantTCB says what min requires of t, a report's TCB: min as t's layout
// reads it, and why a min with an FMC component cannot be met by a TCB
// without one.
func wantTCB(min, t TCB) string {
	w := "at least " + min.in(t).String()
	if min.byVersion {
		w += " (TCB_VERSION " + min.String() + " in the report's layout)"
	}
	if min.HasFMC && !t.HasFMC {
		w += ", whose FMC component only a Turin TCB has (this report's TCB_VERSION has Milan's and Genoa's layout, without FMC)"
	}
	return w
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
