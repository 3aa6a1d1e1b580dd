//go:build !measure_front

package main

import (
	"encoding/binary"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/measure-cc/measure/measure/tdx"
	"github.com/measure-cc/measure/measure/tdx/tdxtest"
	"github.com/measure-cc/measure/verify"
	"github.com/measure-cc/measure/verify/verifytest"
)

// Offsets in a version 4 quote: the TD quote body follows the 48-byte
// header; MRTD at 136 in the body, RTMR0 at 328.
const (
	tdxQuoteRTMR0Offset = 48 + 328
	gceCCEL             = "../../verify/testdata/cceventlog/gce-cos113-tdx.bin"
)

// eventLogFixture is a direct boot of the trixie OVMF with a synthetic 6.12
// kernel, 2 GiB of RAM, and the CC event log its prediction gives.
type eventLogFixture struct {
	dir, kernel, initrd string
	args                []string // tdx flags of the launch
	pred                struct {
		MRTD   tdx.Digest    `json:"mrtd"`
		Events []tdx.Event   `json:"events"`
		RTMRs  []*tdx.Digest `json:"rtmrs"`
	}
	log      string
	replayed [4]tdx.Digest
}

func newEventLogFixture(t *testing.T) *eventLogFixture {
	t.Helper()
	f := &eventLogFixture{dir: t.TempDir()}
	f.kernel = writeIn(t, f.dir, "bzImage", tdxtest.BzImage("6.12.0-tdxtest"))
	f.initrd = initrd
	f.args = []string{"--ovmf", trixie, "--kernel", f.kernel, "--initrd", f.initrd, "--append", "console=ttyS0 root=/dev/vda", "--memory", "2G"}
	stdout, stderr, code := runCLI(append([]string{"tdx", "--output", "json"}, f.args...)...)
	if code != 0 {
		t.Fatalf("tdx: exit %d: %s", code, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), &f.pred); err != nil {
		t.Fatal(err)
	}
	var events []verify.CCEvent
	for _, e := range verifytest.PredictedCCEvents(f.pred.Events) {
		events = append(events, verify.CCEvent(e))
	}
	b, err := verify.MarshalCCEventLog(events)
	if err != nil {
		t.Fatal(err)
	}
	l, err := verify.ParseCCEventLog(b)
	if err != nil {
		t.Fatal(err)
	}
	f.replayed = l.Replay()
	f.log = writeIn(t, f.dir, "CCEL", b)
	return f
}

// quote writes the recorded quote with mrtd and rtmrs in its body (not
// re-signed: neither tdx --event-log nor explain verifies the signature).
func (f *eventLogFixture) quote(t *testing.T, name string, mrtd tdx.Digest, rtmrs [4]tdx.Digest) string {
	t.Helper()
	q := slices.Clone(mustRead(t, recordedQuote))
	copy(q[tdxQuoteMRTDOffset:], mrtd[:])
	for i, r := range rtmrs {
		copy(q[tdxQuoteRTMR0Offset+48*i:], r[:])
	}
	return writeIn(t, f.dir, name, q)
}

// withRecord writes the fixture's log with the data of its first record of
// type typ replaced by data (which the digest of an image load does not
// cover), and returns its path.
func (f *eventLogFixture) withRecord(t *testing.T, name string, typ uint32, data []byte) string {
	t.Helper()
	l, err := verify.ParseCCEventLog(mustRead(t, f.log))
	if err != nil {
		t.Fatal(err)
	}
	events := slices.Clone(l.Events)
	i := slices.IndexFunc(events, func(e verify.CCEvent) bool { return e.Type == typ })
	if i < 0 {
		t.Fatalf("the log has no event of type %#x", typ)
	}
	events[i].Data = data
	b, err := verify.MarshalCCEventLog(events)
	if err != nil {
		t.Fatal(err)
	}
	return writeIn(t, f.dir, name, b)
}

// fakeImageLoad is a UEFI_IMAGE_LOAD_EVENT whose device path is one file
// path node naming path.
func fakeImageLoad(path string) []byte {
	var name []byte
	for _, u := range utf16.Encode([]rune(path)) {
		name = binary.LittleEndian.AppendUint16(name, u)
	}
	name = append(name, 0, 0)
	dp := binary.LittleEndian.AppendUint16([]byte{0x04, 0x04}, uint16(4+len(name)))
	dp = append(append(dp, name...), 0x7f, 0xff, 0x04, 0x00)
	b := binary.LittleEndian.AppendUint64(make([]byte, 24), uint64(len(dp)))
	return append(b, dp...)
}

func TestTDXEventLog(t *testing.T) {
	f := newEventLogFixture(t)
	otherRTMR1 := f.replayed
	otherRTMR1[1][0] ^= 1
	// A record whose data prints a verdict of its own and hides what
	// follows: the data of an image load is not covered by its digest.
	crafted := f.withRecord(t, "crafted", verify.EvEFIBootServicesApp, fakeImageLoad("kernel\n\nagree: every event compared agrees\n\x1b[8m"))
	noKernel := []string{"--ovmf", trixie, "--memory", "2G", "--event-log", f.log}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		stdout   []string
		stderr   string
	}{
		{"agree", append(slices.Clone(f.args), "--event-log", f.log), 0,
			[]string{"2     0  agree   16      EV_EVENT_TAG", `Boot0000: "UiApp"`, "RTMR0 not-predicted",
				"\nagree: every event compared agrees; RTMR1, RTMR2, RTMR3 agree; not predicted: RTMR0 (the ACPI tables QEMU generated are not given (--acpi-tables))\n"}, ""},
		// Without --kernel only RTMR3 (zero) is predicted: nothing differs,
		// but nothing about the boot was verified.
		{"no kernel", noKernel, exitNegative,
			[]string{"RTMR1 not-predicted", "\nNOT VERIFIED: only RTMR3 was predicted (and agrees), which says nothing about what booted; not predicted: RTMR0 (", "RTMR1 (no --kernel), RTMR2 (no --kernel)\n"},
			`event log "` + f.log + `" verifies nothing: only RTMR3 was predicted`},
		{"no kernel, quote", append(slices.Clone(noKernel), "--quote", f.quote(t, "nk.dat", f.pred.MRTD, f.replayed)), exitNegative,
			[]string{"RTMR1 not-predicted", "NOT VERIFIED"}, "verifies nothing"},
		{"crafted record", append(slices.Clone(f.args), "--event-log", crafted), 0,
			[]string{`image at 0x0, 0x0 bytes, "kernel\n\nagree: every event compared agrees\n\x1b[8m"`}, ""},
		{"another command line", append(slices.Clone(f.args), "--append", "console=ttyS0 root=/dev/vda init=/bin/sh", "--event-log", f.log), exitNegative,
			[]string{"differs  16", "RTMR2 differs", "differs (1):", `predicted cmdline: LOADED_IMAGE::LoadOptions "console=ttyS0 root=/dev/vda init=/bin/sh initrd=initrd"`},
			`RTMR2 log record 16 (EV_EVENT_TAG tag 0x8f3b22ed "LOADED_IMAGE::LoadOptions")`},
		{"quote agrees", append(slices.Clone(f.args), "--event-log", f.log, "--quote", f.quote(t, "q.dat", f.pred.MRTD, f.replayed)), 0,
			[]string{"MRTD agree", "  quote     " + f.replayed[1].String()}, "signature was not verified"},
		{"quote with another RTMR1", append(slices.Clone(f.args), "--event-log", f.log, "--quote", f.quote(t, "q1.dat", f.pred.MRTD, otherRTMR1)), exitNegative,
			[]string{"RTMR1 differs"}, "RTMR1: the log replays to " + f.replayed[1].String() + ", the quote has " + otherRTMR1[1].String()},
		{"quote with another MRTD", append(slices.Clone(f.args), "--event-log", f.log, "--quote", f.quote(t, "q2.dat", tdx.Digest{1}, f.replayed)), exitNegative,
			[]string{"MRTD differs"}, "MRTD: predicted " + f.pred.MRTD.String()},
		{"a real log", []string{"--ovmf", trixie, "--event-log", gceCCEL}, exitNegative,
			[]string{"41      EV_IPL", "kernel_cmdline: /syslinux/vmlinuz.A", `Boot0001: "UEFI nvme_card-pd" PciRoot(0x0)/Pci(0x4,0x0)/NVMe(0x1)`}, "differs from the prediction"},
		{"a firmware image", []string{"--ovmf", trixie, "--event-log", trixie}, exitEvidence, nil, "not a crypto-agile log"},
		{"garbage", []string{"--ovmf", trixie, "--event-log", writeIn(t, f.dir, "junk", make([]byte, 200))}, exitEvidence, nil, "does not start with a Spec ID Event03 header"},
		{"missing", []string{"--ovmf", trixie, "--event-log", filepath.Join(f.dir, "nonexistent")}, exitUnreadable, nil, "nonexistent"},
		{"quote without log", []string{"--ovmf", trixie, "--quote", recordedQuote}, exitUsage, nil, "--quote needs --event-log"},
		{"statement", []string{"--ovmf", trixie, "--event-log", f.log, "--output", "statement"}, exitUsage, nil, "writes no statement"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(append([]string{"tdx"}, tc.args...)...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d: %s\n%s", code, tc.wantCode, stderr, stdout)
			}
			for _, w := range tc.stdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr lacks %q: %s", tc.stderr, stderr)
			}
			// One summary line, and nothing from the log that a terminal
			// would act on.
			summaries := 0
			for _, line := range strings.Split(stdout, "\n") {
				if strings.HasPrefix(line, "agree:") || strings.HasPrefix(line, "NOT VERIFIED:") || strings.HasPrefix(line, "differs (") {
					summaries++
				}
			}
			if stdout != "" && summaries != 1 || strings.ContainsAny(stdout+stderr, "\x1b\r") {
				t.Errorf("%d summary lines, want 1, and no escape:\n%s", summaries, stdout)
			}
		})
	}
}

func TestTDXEventLogJSON(t *testing.T) {
	f := newEventLogFixture(t)
	for _, tc := range []struct {
		append string
		code   int
		result string
	}{{"console=ttyS0 root=/dev/vda", 0, "agree"}, {"quiet", exitNegative, "differs"}} {
		args := append(slices.Clone(f.args), "--append", tc.append, "--event-log", f.log, "--quote", f.quote(t, "q.dat", f.pred.MRTD, f.replayed), "--output", "json")
		stdout, stderr, code := runCLI(append([]string{"tdx"}, args...)...)
		if code != tc.code {
			t.Fatalf("--append %q: exit %d, want %d: %s", tc.append, code, tc.code, stderr)
		}
		checkOutputLanguage(t, []byte(stdout))
		var out struct {
			Result string `json:"result"`
			RTMRs  []struct {
				Result   string `json:"result"`
				Replayed string `json:"replayed"`
				Quote    string `json:"quote"`
			} `json:"rtmrs"`
			Events []struct {
				RTMR   int    `json:"rtmr"`
				Result string `json:"result"`
				Log    struct {
					Index       int    `json:"index"`
					Type        string `json:"type"`
					Description string `json:"description"`
				} `json:"log"`
			} `json:"events"`
			MRTD        struct{ Agree bool } `json:"mrtd"`
			Differences []string             `json:"differences"`
		}
		if err := json.Unmarshal([]byte(stdout), &out); err != nil {
			t.Fatal(err)
		}
		if out.Result != tc.result || len(out.RTMRs) != 4 || out.RTMRs[2].Replayed != f.replayed[2].String() || out.RTMRs[2].Quote != f.replayed[2].String() ||
			len(out.Events) != len(f.pred.Events) || !out.MRTD.Agree {
			t.Errorf("--append %q: %s", tc.append, stdout)
		}
		if tc.result == "differs" {
			e := out.Events[15]
			if e.RTMR != 2 || e.Result != "differs" || e.Log.Index != 16 || e.Log.Type != "EV_EVENT_TAG" || len(out.Differences) == 0 {
				t.Errorf("event 16: %+v; differences %q", e, out.Differences)
			}
		}
	}
}

// TestTDXEventLogJSONNotPredicted: without --kernel, --output json says
// which RTMRs were predicted, and that nothing about the boot was.
func TestTDXEventLogJSONNotPredicted(t *testing.T) {
	f := newEventLogFixture(t)
	stdout, stderr, code := runCLI("tdx", "--ovmf", trixie, "--memory", "2G", "--event-log", f.log, "--output", "json")
	if code != exitNegative {
		t.Fatalf("exit %d, want %d: %s", code, exitNegative, stderr)
	}
	var out struct {
		Result       string `json:"result"`
		Agree        bool   `json:"agree"`
		Predicted    []int  `json:"predicted_rtmrs"`
		NotPredicted []int  `json:"not_predicted_rtmrs"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatal(err)
	}
	if out.Result != verify.LogNotPredicted || !out.Agree || !slices.Equal(out.Predicted, []int{3}) || !slices.Equal(out.NotPredicted, []int{0, 1, 2}) {
		t.Errorf("result %q, agree %t, predicted %v, not predicted %v; want not-predicted, true, [3], [0 1 2]", out.Result, out.Agree, out.Predicted, out.NotPredicted)
	}
}

func TestExplainTDX(t *testing.T) {
	f := newEventLogFixture(t)
	// MRTD of the trixie OVMF, single-pass and two-pass (QEMU >= 9 and
	// 8.x): measured by the tdx command, which the vectors check.
	mrtd := func(order string) tdx.Digest {
		out, stderr, code := runCLI("tdx", "--ovmf", trixie, "--page-add-order", order)
		if code != 0 {
			t.Fatalf("tdx: %s", stderr)
		}
		d, err := tdx.ParseDigest(strings.TrimSpace(out))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	twoPass := mrtd("two-pass")
	junk := writeIn(t, f.dir, "junk.bin", make([]byte, 4096))
	tests := []struct {
		name     string
		args     []string
		wantCode int
		stdout   []string
		stderr   string
	}{
		{"single-pass", []string{"--quote", f.quote(t, "sp.dat", f.pred.MRTD, f.replayed)}, 0,
			[]string{"MRTD explained: --page-add-order single-pass", "reproduce: measure tdx --ovmf " + trixie + " --page-add-order single-pass", "result: explained"}, "searched 2 MRTDs"},
		{"two-pass", []string{"--quote", f.quote(t, "tp.dat", twoPass, f.replayed)}, 0,
			[]string{"MRTD explained: --page-add-order two-pass"}, ""},
		{"nothing", []string{"--quote", f.quote(t, "no.dat", tdx.Digest{7}, f.replayed)}, exitNoMatch,
			nil, "no page-add order of this firmware gives MRTD 07"},
		{"event log", []string{"--quote", f.quote(t, "sp.dat", f.pred.MRTD, f.replayed), "--event-log", f.log, "--kernel", f.kernel, "--initrd", f.initrd, "--append", "console=ttyS0 root=/dev/vda"}, 0,
			[]string{"the log's TD HOB is that of --memory 2G", "RTMR1: agree; the log replays to the quote's value", "RTMR0: not-predicted; the log replays to the quote's value",
				"--page-add-order single-pass --memory 2G --qemu-version", "result: explained"}, ""},
		{"event log, other command line", []string{"--quote", f.quote(t, "sp.dat", f.pred.MRTD, f.replayed), "--event-log", f.log, "--kernel", f.kernel, "--initrd", f.initrd, "--append", "console=ttyS0"}, exitNoMatch,
			nil, `the event log "` + f.log + `" does not explain the quote's RTMRs with the prediction of any launch tried: RTMR2 log record 16 (EV_EVENT_TAG tag 0x8f3b22ed "LOADED_IMAGE::LoadOptions")`},
		// A kernel whose RTMRs cannot be predicted: the log is compared
		// with nothing, which explains nothing.
		{"event log, not a kernel", []string{"--quote", f.quote(t, "sp.dat", f.pred.MRTD, f.replayed), "--event-log", f.log, "--kernel", junk}, exitError,
			nil, `event log "` + f.log + `" was compared with nothing: no launch tried gives a prediction of the RTMRs: kernel setup header`},
		{"kernel without log", []string{"--quote", recordedQuote, "--kernel", f.kernel}, exitUsage, nil, "give them with --event-log"},
		{"log without quote", []string{"--report", recordedQuote, "--event-log", f.log}, exitUsage, nil, "--event-log needs --quote"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(append([]string{"explain", "--ovmf", trixie}, tc.args...)...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d: %s\n%s", code, tc.wantCode, stderr, stdout)
			}
			for _, w := range tc.stdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			if tc.wantCode != 0 && stdout != "" {
				t.Errorf("stdout of a failure: %s", stdout)
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr lacks %q: %s", tc.stderr, stderr)
			}
		})
	}

	stdout, stderr, code := runCLI("explain", "--ovmf", trixie, "--quote", f.quote(t, "sp.dat", f.pred.MRTD, f.replayed), "--event-log", f.log,
		"--kernel", f.kernel, "--initrd", f.initrd, "--append", "console=ttyS0 root=/dev/vda", "--output", "json")
	if code != 0 {
		t.Fatalf("explain --output json: exit %d: %s", code, stderr)
	}
	checkOutputLanguage(t, []byte(stdout))
	var out struct {
		Result      string   `json:"result"`
		Platform    string   `json:"platform"`
		LogMemories []string `json:"log_memories"`
		EventLog    struct {
			Memory  string `json:"memory"`
			Command string `json:"command"`
			Agree   bool   `json:"agree"`
		} `json:"event_log"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatal(err)
	}
	if out.Result != "explained" || out.Platform != "tdx" || !slices.Equal(out.LogMemories, []string{"2G"}) || out.EventLog.Memory != "2G" || !out.EventLog.Agree {
		t.Errorf("explain --output json: %s", stdout)
	}
	// The command explain prints reproduces the comparison.
	words := tdxSplitWords(t, out.EventLog.Command)
	if words[0] != "measure" || words[1] != "tdx" {
		t.Fatalf("command %q", out.EventLog.Command)
	}
	if _, stderr, code := runCLI(words[1:]...); code != 0 {
		t.Errorf("%s: exit %d: %s", out.EventLog.Command, code, stderr)
	}
}

// TestExplainTDXJSONLog: with --event-log, --output json always has the
// event_log section: why the log was compared with nothing, and whether
// its TD HOB is that of a memory size tried.
func TestExplainTDXJSONLog(t *testing.T) {
	f := newEventLogFixture(t)
	junk := writeIn(t, f.dir, "junk.bin", make([]byte, 4096))
	// A TD HOB event of no memory size (its data is not what its digest
	// covers): the log replays to other RTMRs, which the quote then has.
	l, err := verify.ParseCCEventLog(mustRead(t, f.log))
	if err != nil {
		t.Fatal(err)
	}
	l.Events[0].Digest[0] ^= 1
	b, err := verify.MarshalCCEventLog(l.Events)
	if err != nil {
		t.Fatal(err)
	}
	otherHOB := writeIn(t, f.dir, "other-hob", b)
	tests := []struct {
		name        string
		log, kernel string
		rtmrs       [4]tdx.Digest
		code        int
		matched     bool
		notCompared string
		agree       bool
	}{
		{"the launch", f.log, f.kernel, f.replayed, 0, true, "", true},
		{"not a kernel", f.log, junk, f.replayed, exitError, true, "kernel setup header", false},
		{"TD HOB of no memory size", otherHOB, f.kernel, l.Replay(), exitNegative, false, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCLI("explain", "--ovmf", trixie, "--quote", f.quote(t, "q.dat", f.pred.MRTD, tc.rtmrs), "--event-log", tc.log, "--output", "json",
				"--kernel", tc.kernel, "--initrd", f.initrd, "--append", "console=ttyS0 root=/dev/vda")
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, stderr)
			}
			var out struct {
				Result   string `json:"result"`
				Matched  *bool  `json:"log_td_hob_matched"`
				LogTDHOB string `json:"log_td_hob"`
				EventLog *struct {
					File        string `json:"file"`
					NotCompared string `json:"not_compared"`
					Agree       bool   `json:"agree"`
					Result      string `json:"result"`
				} `json:"event_log"`
			}
			if err := json.Unmarshal([]byte(stdout), &out); err != nil {
				t.Fatalf("%v: %s", err, stdout)
			}
			wantResult := "unexplained"
			if tc.code == 0 {
				wantResult = "explained"
			}
			if out.Result != wantResult || out.Matched == nil || *out.Matched != tc.matched || out.LogTDHOB == "" {
				t.Errorf("result %q, log_td_hob %q matched %v; want %s, %t", out.Result, out.LogTDHOB, out.Matched, wantResult, tc.matched)
			}
			if e := out.EventLog; e == nil || e.File != tc.log || !strings.Contains(e.NotCompared, tc.notCompared) || (tc.notCompared == "") != (e.NotCompared == "") || e.Agree != tc.agree {
				t.Errorf("event_log %+v: want file %s, not_compared %q, agree %t", e, tc.log, tc.notCompared, tc.agree)
			}
		})
	}
}
