package verify

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// TestTDXQuoteLayout: the structures have the sizes and offsets of Intel's
// quote format tables (header 48, body descriptor 6, TD report 1.0 584 and
// 1.5 648, SGX report 384).
func TestTDXQuoteLayout(t *testing.T) {
	for _, c := range []struct {
		name string
		v    any
		want int
	}{{"header", tdxQuoteHeader{}, 48}, {"body descriptor", tdxQuoteBodyDescriptor{}, 6},
		{"TD report 1.0", tdReport10{}, 584}, {"TD report 1.5", tdReport15{}, 648}, {"SGX report", sgxReport{}, 384}} {
		if got := binary.Size(c.v); got != c.want {
			t.Errorf("binary.Size(%s) = %d, want %d", c.name, got, c.want)
		}
	}
	var td tdReport10
	var r sgxReport
	var td15 tdReport15
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"MRTD", unsafe.Offsetof(td.MRTD), 0x88}, {"RTMR", unsafe.Offsetof(td.RTMR), 0x148}, {"REPORTDATA", unsafe.Offsetof(td.REPORTDATA), 0x208},
		{"TEE_TCB_SVN2", unsafe.Offsetof(td15.TEETCBSVN2), 0x248}, {"MRSERVICETD", unsafe.Offsetof(td15.MRSERVICETD), 0x258},
		{"QE MRSIGNER", unsafe.Offsetof(r.MRSIGNER), 0x80}, {"QE ISVPRODID", unsafe.Offsetof(r.ISVPRODID), 0x100}, {"QE REPORTDATA", unsafe.Offsetof(r.REPORTDATA), 0x140},
	} {
		if c.got != c.want {
			t.Errorf("offset of %s = %#x, want %#x", c.name, c.got, c.want)
		}
	}
}

// TestTDXQuoteRoundTrip: marshal is parseQuoteStd's inverse on every real
// quote, of both versions.
func TestTDXQuoteRoundTrip(t *testing.T) {
	for _, p := range []string{"testdata/tdx-quote-v4.dat", "testdata/tdx-quote-v5.dat", "testdata/tdx-quote-v5-trustee.dat", "testdata/dcap-qvl/tdx_quote.dat", "testdata/intel-sample-tdx/quote.dat"} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := parseQuoteStd(b)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if got := q.marshal(); !bytes.Equal(got, b) {
			t.Errorf("%s: marshal(parse(b)) differs from b (%d bytes, want %d)", p, len(got), len(b))
		}
	}
}

// v5Fixture is the dcap-qvl version 5 quote, its verified platform and its
// collateral's TCB info and QE identity, parsed (signatures checked by
// TestTDXTCBV5Outdated).
func v5Fixture(t testing.TB) (*TDXQuote, *TDXPlatform, *tdxTCBInfoJSON, *tdxQEIdentityJSON, time.Time) {
	t.Helper()
	b, err := os.ReadFile("testdata/tdx-quote-v5.dat")
	if err != nil {
		t.Fatal(err)
	}
	q, err := ParseTDXQuote(b)
	if err != nil {
		t.Fatal(err)
	}
	var col map[string]string
	raw, err := os.ReadFile("testdata/dcap-qvl/tdx_quote_outdated_collateral.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &col); err != nil {
		t.Fatal(err)
	}
	// 2026-03-19: within the TCB info's, QE identity's and CRLs' windows.
	now := time.Date(2026, time.March, 19, 0, 0, 0, 0, time.UTC)
	root, _, err := tdxRoot(nil)
	if err != nil {
		t.Fatal(err)
	}
	plat, err := VerifyTDXQuote(q, TDXPCKChain{}, root, now)
	if err != nil {
		t.Fatal(err)
	}
	info, err := parseTDXTCBInfo([]byte(col["tcb_info"]), now)
	if err != nil {
		t.Fatal(err)
	}
	qe, err := parseTDXQEIdentity([]byte(col["qe_identity"]), now)
	if err != nil {
		t.Fatal(err)
	}
	return q, plat, info, qe, now
}

// TestTDXTCBOverrideDcapQVL: dcap-qvl's
// outdated_fixture_with_override_matches_expected_status
// (tests/verify_tcb_override.rs): with a TCB level of all-zero SVNs
// inserted first and every level's status set to UpToDate
// (force_up_to_date_with_matching_level), the version 5 fixture is
// UpToDate.
func TestTDXTCBOverrideDcapQVL(t *testing.T) {
	q, plat, info, qe, _ := v5Fixture(t)
	out := &TDXTCB{}
	if err := info.evaluate(q.parsed, plat, out); err == nil || !strings.Contains(err.Error(), "TCB not supported") {
		t.Fatalf("evaluate without the override = %v, want TCB not supported", err)
	}
	var permissive tdxTCBLevelJSON
	permissive.TCB.SGX = make([]tdxTCBComponent, 16)
	permissive.TCB.TDX = make([]tdxTCBComponent, 16)
	info.TCBLevels = append([]tdxTCBLevelJSON{permissive}, info.TCBLevels...)
	for i := range info.TCBLevels {
		info.TCBLevels[i].TCBStatus = TCBUpToDate
	}
	st, err := qe.status(&q.parsed.QE.Report)
	if err != nil {
		t.Fatal(err)
	}
	out = &TDXTCB{QEStatus: st}
	if err := info.evaluate(q.parsed, plat, out); err != nil || out.Status != TCBUpToDate {
		t.Errorf("evaluate with the override = %+v, %v; want UpToDate", out, err)
	}
}

// TestTDXTCBGoTDXGuestCases repeats go-tdx-guest v0.3.1's verify_test.go
// cases on its sample TCB info and QE identity, altered after their
// signatures are checked, as go-tdx-guest alters them: each must pass or
// fail as there.
func TestTDXTCBGoTDXGuestCases(t *testing.T) {
	b, _ := os.ReadFile("testdata/tdx-quote-v4.dat")
	q, err := ParseTDXQuote(b)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2023, time.July, 1, 1, 0, 0, 0, time.UTC)
	root, _, _ := tdxRoot(nil)
	plat, err := VerifyTDXQuote(q, TDXPCKChain{}, root, now)
	if err != nil {
		t.Fatal(err)
	}
	load := func(path, key string) []byte {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m[key]
	}
	tcbRaw, qeRaw := load("testdata/tdx-tcbinfo.json", "tcbInfo"), load("testdata/tdx-qeidentity.json", "enclaveIdentity")
	// setTcbSvnValues(sgx, tdx) sets every SVN of level 0, as go-tdx-guest's
	// test helper does.
	set := func(info *tdxTCBInfoJSON, sgx, tdx int) {
		for i := range 16 {
			info.TCBLevels[0].TCB.SGX[i].SVN, info.TCBLevels[0].TCB.TDX[i].SVN = sgx, tdx
		}
	}
	tcbCases := []struct {
		name       string
		alter      func(*tdxTCBInfoJSON)
		wantStatus string // "" wants an error
	}{
		{"TestVerifyUsingTcbInfoV4: level 0 all zero", func(i *tdxTCBInfoJSON) { set(i, 0, 0) }, TCBUpToDate},
		{"FMSPC 11111f000000", func(i *tdxTCBInfoJSON) { set(i, 0, 0); i.FMSPC = []byte{0x11, 0x11, 0x1f, 0, 0, 0} }, ""},
		{"PCEID 1111", func(i *tdxTCBInfoJSON) { set(i, 0, 0); i.PCEID = []byte{0x11, 0x11} }, ""},
		{"TdxModule.Mrsigner changed", func(i *tdxTCBInfoJSON) { set(i, 0, 0); i.TDXModule.MRSIGNER = bytes.Repeat([]byte{1}, 48) }, ""},
		{"TdxModule.Attributes changed", func(i *tdxTCBInfoJSON) { set(i, 0, 0); i.TDXModule.Attributes = []byte{1, 2, 3, 4, 5, 6, 7, 8} }, ""},
		{"SGX components 10", func(i *tdxTCBInfoJSON) { set(i, 10, 0) }, ""},
		{"TDX components 10", func(i *tdxTCBInfoJSON) { set(i, 0, 10) }, ""},
		{"PCESVN 20", func(i *tdxTCBInfoJSON) { set(i, 0, 0); i.TCBLevels[0].TCB.PCESVN = 20 }, ""},
		// go-tdx-guest: `TCB Status is not "UpToDate", found "OutOfDate"`.
		{"level status OutOfDate", func(i *tdxTCBInfoJSON) { set(i, 0, 0); i.TCBLevels[0].TCBStatus = TCBOutOfDate }, TCBOutOfDate},
	}
	for _, tc := range tcbCases {
		t.Run(tc.name, func(t *testing.T) {
			info, err := parseTDXTCBInfo(tcbRaw, now)
			if err != nil {
				t.Fatal(err)
			}
			tc.alter(info)
			out := &TDXTCB{}
			err = info.evaluate(q.parsed, plat, out)
			if tc.wantStatus == "" {
				if !errors.Is(err, ErrHardwareSignature) {
					t.Errorf("evaluate = %+v, %v; want ErrHardwareSignature", out, err)
				}
				return
			}
			if err != nil || out.Status != tc.wantStatus {
				t.Errorf("evaluate = %+v, %v; want %s", out, err, tc.wantStatus)
			}
		})
	}
	qeCases := []struct {
		name       string
		alter      func(*tdxQEIdentityJSON)
		wantStatus string
	}{
		{"TestVerifyUsingQeIdentityV4", func(*tdxQEIdentityJSON) {}, TCBUpToDate},
		{"MISCSELECT 01020304", func(e *tdxQEIdentityJSON) { e.MISCSELECT = []byte{1, 2, 3, 4} }, ""},
		{"attributes changed", func(e *tdxQEIdentityJSON) { e.Attributes = bytes.Repeat([]byte{1}, 16) }, ""},
		{"MRSIGNER changed", func(e *tdxQEIdentityJSON) { e.MRSIGNER = bytes.Repeat([]byte{1}, 32) }, ""},
		{"ISVPRODID 5", func(e *tdxQEIdentityJSON) { e.ISVPRODID = 5 }, ""},
		{"TestNegativeCheckQeStatusV4: ISVSVN 10", func(e *tdxQEIdentityJSON) { e.TCBLevels[0].TCB.ISVSVN = 10 }, ""},
		{"level status OutOfDate", func(e *tdxQEIdentityJSON) { e.TCBLevels[0].TCBStatus = TCBOutOfDate }, TCBOutOfDate},
	}
	for _, tc := range qeCases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := parseTDXQEIdentity(qeRaw, now)
			if err != nil {
				t.Fatal(err)
			}
			tc.alter(e)
			st, err := e.status(&q.parsed.QE.Report)
			if tc.wantStatus == "" {
				if !errors.Is(err, ErrHardwareSignature) {
					t.Errorf("status = %q, %v; want ErrHardwareSignature", st, err)
				}
				return
			}
			if err != nil || st != tc.wantStatus {
				t.Errorf("status = %q, %v; want %s", st, err, tc.wantStatus)
			}
		})
	}
}

// TestTDXStatusConvergence: the combination rules of Intel's QVL
// (TdxModuleCheck.cpp convergeTcbStatusWithTdxModuleStatus,
// TcbLevelCheck.cpp convergeTcbStatusWithQeTcbStatus), case by case.
func TestTDXStatusConvergence(t *testing.T) {
	for _, c := range []struct{ level, other, wantModule, wantQE string }{
		{TCBUpToDate, TCBUpToDate, TCBUpToDate, TCBUpToDate},
		{TCBUpToDate, TCBOutOfDate, TCBOutOfDate, TCBOutOfDate},
		{TCBSWHardeningNeeded, TCBOutOfDate, TCBOutOfDate, TCBOutOfDate},
		{TCBConfigurationNeeded, TCBOutOfDate, TCBOutOfDateConfigurationNeeded, TCBOutOfDateConfigurationNeeded},
		{TCBConfigurationAndSWHardeningNeeded, TCBOutOfDate, TCBOutOfDateConfigurationNeeded, TCBOutOfDateConfigurationNeeded},
		{TCBOutOfDateConfigurationNeeded, TCBOutOfDate, TCBOutOfDateConfigurationNeeded, TCBOutOfDateConfigurationNeeded},
		{TCBSWHardeningNeeded, TCBRevoked, TCBRevoked, TCBRevoked},
		{TCBRevoked, TCBUpToDate, TCBRevoked, TCBRevoked},
		{TCBConfigurationNeeded, TCBUpToDate, TCBConfigurationNeeded, TCBConfigurationNeeded},
		{TCBTDRelaunchAdvised, TCBOutOfDate, TCBTDRelaunchAdvised, TCBTDRelaunchAdvised},
	} {
		if got := tdxConvergeModule(c.level, c.other); got != c.wantModule {
			t.Errorf("level %s, module %s: %s, want %s", c.level, c.other, got, c.wantModule)
		}
		if got := tdxConvergeQE(c.level, c.other); got != c.wantQE {
			t.Errorf("level %s, QE %s: %s, want %s", c.level, c.other, got, c.wantQE)
		}
	}
}

// TestTDXRelaunch: TDRelaunchCheck.cpp: with the SGX TCB fine, the TDX
// TCB out of date only through the TDX module, and TEE_TCB_SVN2 meeting
// the latest level (module ISVSVN via its identity's first level, and
// component 2), relaunching is advised; otherwise the status stands.
func TestTDXRelaunch(t *testing.T) {
	_, _, info, _, _ := v5Fixture(t)
	// The fixture: latest level wants TDX component 2 >= 3; TDX_01's first
	// level wants ISVSVN 6.
	svn2 := func(isv, major, c2 byte) (s [16]byte) { s[0], s[1], s[2] = isv, major, c2; return }
	for _, c := range []struct {
		name                       string
		svn2                       [16]byte
		sgx, tdx, module, qe, want string
	}{
		{"updated in place", svn2(6, 1, 3), TCBUpToDate, TCBOutOfDate, TCBOutOfDate, TCBUpToDate, TCBTDRelaunchAdvised},
		{"updated, configuration needed", svn2(6, 1, 3), TCBConfigurationNeeded, TCBOutOfDateConfigurationNeeded, TCBOutOfDate, "", TCBTDRelaunchAdvisedConfigurationNeeded},
		{"module still old", svn2(5, 1, 3), TCBUpToDate, TCBOutOfDate, TCBOutOfDate, TCBUpToDate, TCBOutOfDate},
		{"microcode still old", svn2(6, 1, 2), TCBUpToDate, TCBOutOfDate, TCBOutOfDate, TCBUpToDate, TCBOutOfDate},
		{"module up to date", svn2(6, 1, 3), TCBUpToDate, TCBOutOfDate, TCBUpToDate, TCBUpToDate, TCBOutOfDate},
		{"QE out of date", svn2(6, 1, 3), TCBUpToDate, TCBOutOfDate, TCBOutOfDate, TCBOutOfDate, TCBOutOfDate},
		{"SGX out of date", svn2(6, 1, 3), TCBOutOfDate, TCBOutOfDate, TCBOutOfDate, TCBUpToDate, TCBOutOfDate},
	} {
		got, err := info.relaunch(c.svn2, c.sgx, c.tdx, c.module, c.qe)
		if err != nil || got != c.want {
			t.Errorf("%s: relaunch = %q, %v; want %s", c.name, got, err, c.want)
		}
	}
	if _, err := info.relaunch(svn2(6, 7, 3), TCBUpToDate, TCBOutOfDate, TCBOutOfDate, ""); !errors.Is(err, ErrHardwareSignature) {
		t.Errorf("TEE_TCB_SVN2 of an unknown module: %v, want ErrHardwareSignature", err)
	}
}

// FuzzTDXCollateralJSON: TCB info and QE identity JSON, parsed and
// evaluated against the version 5 fixture, never panic.
func FuzzTDXCollateralJSON(f *testing.F) {
	raw, err := os.ReadFile("testdata/dcap-qvl/tdx_quote_outdated_collateral.json")
	if err != nil {
		f.Fatal(err)
	}
	var col map[string]string
	if err := json.Unmarshal(raw, &col); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(col["tcb_info"]))
	f.Add([]byte(col["qe_identity"]))
	f.Add([]byte(`{"id":"TDX","version":3,"issueDate":"2026-02-18T10:58:51Z","nextUpdate":"2026-03-20T10:58:51Z","fmspc":"90C06F000000","pceId":"0000","tdxModule":{"mrsigner":"","attributes":"","attributesMask":""},"tcbLevels":[{}]}`))
	q, plat, _, _, now := v5Fixture(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if info, err := parseTDXTCBInfo(b, now); err == nil {
			_ = info.evaluate(q.parsed, plat, &TDXTCB{QEStatus: TCBUpToDate})
			_, _ = info.relaunch(q.parsed.Body.TEETCBSVN2, TCBUpToDate, TCBOutOfDate, TCBOutOfDate, "")
		}
		if e, err := parseTDXQEIdentity(b, now); err == nil {
			_, _ = e.status(&q.parsed.QE.Report)
		}
	})
}
