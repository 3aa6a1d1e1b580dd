//go:build !measure_front

package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

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

func TestTDXEventLog(t *testing.T) {
	f := newEventLogFixture(t)
	otherRTMR1 := f.replayed
	otherRTMR1[1][0] ^= 1
	tests := []struct {
		name     string
		args     []string
		wantCode int
		stdout   []string
		stderr   string
	}{
		{"agree", append(slices.Clone(f.args), "--event-log", f.log), 0,
			[]string{"agree: every event compared agrees", "2     0  agree   16      EV_EVENT_TAG", `Boot0000: "UiApp"`, "RTMR0 not-predicted"}, ""},
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
