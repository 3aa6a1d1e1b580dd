package verify_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/measure-cc/measure/measure"
	"github.com/measure-cc/measure/measure/tdx"
	"github.com/measure-cc/measure/measure/tdx/tdxtest"
	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/verify"
	"github.com/measure-cc/measure/verify/verifytest"
)

func readCCEL(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "cceventlog", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The RTMRs go-eventlog v0.0.2's ccel/replay_test.go (TestReplayAndExtract)
// and ccel/cceventlog_test.go (COS113TDXUnpadded, COS113TDXPadded) replay
// its GCE Container-Optimized OS 113 logs to, as the Go string literals of
// those tests.
var (
	cos113RTMRs = [3]string{
		"?\xa2\xf6\x1f9[\x7f_\xee\xfbN\xc2\xdfa)\x7f\x10\x9aث\xcdd\x10\xc1\xb7\xdf`\xf2\x1f7\xb1\x92\x97\xfc5\xe5D\x03\x9c~\x1e\xde\xceu*\xfd\x17\xf6",
		"\xf6-\xbc\a+\xd5\xd3\xf3C\x8b{5Úr\x7fZ\xea/\xfc$s\xf47#\x95?S\r\xafbPO\nyD\xaab\xc4\x1a\x86\xe8\xa8x±\"\xc1",
		"IihM\xc8s\x81\xfc;14\x17l\x8d\x88\x06\xea\xf0\xa9\x01\x85\x9f_pϮ\x8d\x17qKF\xc1\n\x8d\xe2\x19\x04\x8c\x9f\xc0\x9f\x11\xf3\x81\xa6\xfb\xe7\xc1",
	}
	cos113DupeSeparatorRTMRs = [3]string{
		"\xa4\xde-\xf2>\x96\x11)\x91#\xbaCY\xc4*^W\x8b\x0f\x84\x88\xbf\x1b\xba\x8e\xf5`m\x9e\xa5\xd8\x1c\x97\xc0d\xb4\x82\xa5\xea\xc57\xd1f\xbd\x0f\x0fu-",
		"\x0e\xe96l\x92\x8aw\t/U\xe9\xe1\x14\xc79A\x81\xfd&F\x99\x15_\r\xf7}#Wv\x18\xd5\xf6PV\x8a\x17\xd3y5Z\a\xbd\x84nU/N ",
		"IihM\xc8s\x81\xfc;14\x17l\x8d\x88\x06\xea\xf0\xa9\x01\x85\x9f_pϮ\x8d\x17qKF\xc1\n\x8d\xe2\x19\x04\x8c\x9f\xc0\x9f\x11\xf3\x81\xa6\xfb\xe7\xc1",
	}
)

// registers is what a quote would report for the recorded RTMRs.
func registers(t testing.TB, rtmrs [3]string) []verify.Register {
	t.Helper()
	var out []verify.Register
	for i, r := range rtmrs {
		if len(r) != 48 {
			t.Fatalf("recorded RTMR%d has %d bytes", i, len(r))
		}
		out = append(out, verify.Register{Name: "RTMR" + string(rune('0'+i)), Value: []byte(r)})
	}
	return out
}

func TestCCEventLogReplaysToRecordedRTMRs(t *testing.T) {
	tests := []struct {
		file   string
		rtmrs  [3]string
		events int
	}{
		{"gce-cos113-tdx.bin", cos113RTMRs, 43},
		{"gce-cos113-tdx-dupe-separator.bin", cos113DupeSeparatorRTMRs, 43},
		{"gce-cos113-tdx-dupe-separator-unpadded.bin", cos113DupeSeparatorRTMRs, 43},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			l, err := verify.ParseCCEventLog(readCCEL(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Events) != tc.events {
				t.Errorf("%d events, want %d", len(l.Events), tc.events)
			}
			got := l.Replay()
			for i, want := range tc.rtmrs {
				if string(got[i][:]) != want {
					t.Errorf("RTMR%d = %x, want %x", i, got[i], want)
				}
			}
			c := verify.CompareCCEventLog(l, nil, registers(t, tc.rtmrs))
			if !c.Agree {
				t.Errorf("CompareCCEventLog with the recorded RTMRs: %q", c.Differences)
			}
			for _, e := range l.Events {
				if checked, ok := e.DataCovered(); checked && !ok {
					t.Errorf("record %d (%s %s): digest is not SHA-384 of its data", e.Index, e.TypeName(), e.Describe())
				}
			}
		})
	}
}

// TestCCEventLogDescriptions checks what the GCE log's records decode to
// against the bytes of the log as go-eventlog's extract tests read them
// (the boot option, the shim and GRUB paths, GRUB's command line).
func TestCCEventLogDescriptions(t *testing.T) {
	l, err := verify.ParseCCEventLog(readCCEL(t, "gce-cos113-tdx.bin"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]string{
		1:  `"TdxTable": 1 table(s) 93bb96af-b9f2-4eb8-9462-e0ba74564236 at 0x809000`,
		2:  `"Fv(48DB5E17-707C-472D-91CD-1613E7EF51B0)" at 0xffe00000, 0x20000 bytes`,
		3:  `SecureBoot = 0 (vendor 8be4df61-93ca-11d2-aa0d-00e098032b8c)`,
		7:  `dbx (4461 bytes, vendor d719b2cb-3d3a-4596-a3bc-dad00e67656f)`,
		8:  `separator`,
		9:  `"ACPI DATA"`,
		12: `BootOrder: 0001,0000`,
		13: `Boot0001: "UEFI nvme_card-pd" PciRoot(0x0)/Pci(0x4,0x0)/NVMe(0x1)`,
		14: `Boot0000: "UiApp" Fv(7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1)/FvFile(462caa21-7614-4503-836e-8ab6f4662331)`,
		15: `"Calling EFI Application from Boot Option"`,
		17: `GPT disk e0c6c56e-5ef7-8e4a-ace6-3c31a7f75a29, 12 partitions`,
		18: `image at 0xbcb5c018, 0xe1c10 bytes, PciRoot(0x0)/Pci(0x4,0x0)/NVMe(0x1)/HD(12,GPT,58ec8b8f-8e5b-ed42-83a4-0691abb8f3c7)/\EFI\BOOT\BOOTX64.EFI`,
		24: `image at 0xbcb87018, 0xb5700 bytes, \EFI\BOOT\grub-lakitu.efi`,
		43: `"Exit Boot Services Returned with Success"`,
	}
	for _, e := range l.Events {
		if w, ok := want[e.Index]; ok && e.Describe() != w {
			t.Errorf("record %d: Describe() = %s, want %s", e.Index, e.Describe(), w)
		}
	}
	if e := l.Events[40]; e.Type != verify.EvIPL || !strings.HasPrefix(e.Describe(), `"kernel_cmdline: /syslinux/vmlinuz.A init=/usr/lib/systemd/systemd`) || e.RTMR() != 2 {
		t.Errorf("record 41: %s in RTMR%d %s, want GRUB's kernel_cmdline EV_IPL in RTMR2", e.TypeName(), e.RTMR(), e.Describe())
	}
}

// dstackSnapshot is Dstack-TEE/dstack's insta snapshot of its sample
// (cc-eventlog/src/snapshots/cc_eventlog__tests__parse_ccel-2.snap): the
// records its own parser read, with the RTMR ("imr"), type, digest and
// data ("event_payload").
type dstackSnapshot []struct {
	IMR     int    `json:"imr"`
	Type    uint32 `json:"event_type"`
	Digest  string `json:"digest"`
	Payload string `json:"event_payload"`
}

func TestCCEventLogDstackSample(t *testing.T) {
	l, err := verify.ParseCCEventLog(readCCEL(t, "dstack-ccel.bin"))
	if err != nil {
		t.Fatal(err)
	}
	snap := readCCEL(t, "dstack-ccel.snap")
	// The snapshot is a YAML front matter between "---" lines, then JSON.
	_, body, ok := bytes.Cut(snap[3:], []byte("\n---\n"))
	if !ok {
		t.Fatal("snapshot without its front matter")
	}
	var want dstackSnapshot
	if err := json.Unmarshal(body, &want); err != nil {
		t.Fatal(err)
	}
	var got dstackSnapshot
	for _, e := range l.Events {
		if !e.Extends() {
			continue
		}
		got = append(got, struct {
			IMR     int    `json:"imr"`
			Type    uint32 `json:"event_type"`
			Digest  string `json:"digest"`
			Payload string `json:"event_payload"`
		}{e.RTMR(), e.Type, e.Digest.String(), hex.EncodeToString(e.Data)})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records differ from dstack's snapshot (-want +got):\n%s", diff)
	}
}

// TestCCEventLogTampered changes one byte of a real log and checks that
// the comparison with the recorded RTMRs locates the record.
func TestCCEventLogTampered(t *testing.T) {
	orig := readCCEL(t, "gce-cos113-tdx.bin")
	l, err := verify.ParseCCEventLog(orig)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		record int
		// digest changes a byte of the digest, else of the data.
		digest bool
		want   []string
	}{
		{"EFI action string", 15, false, []string{"RTMR1 log record 15 (EV_EFI_ACTION \"Calling EFI Application from Boot Optio", "not SHA-384 of its data"}},
		{"separator digest", 16, true, []string{"RTMR1 log record 16 (EV_SEPARATOR separator)", "RTMR1: the log replays to"}},
		{"UEFI variable data", 6, false, []string{"RTMR0 log record 6 (EV_EFI_VARIABLE_DRIVER_CONFIG db", "not SHA-384 of its data"}},
		{"boot variable digest", 14, true, []string{"RTMR0 log record 14 (EV_EFI_VARIABLE_BOOT Boot0000: \"UiApp\"", "RTMR0: the log replays to"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			events := append([]verify.CCEvent(nil), l.Events...)
			e := &events[tc.record-1]
			if tc.digest {
				e.Digest[7] ^= 1
			} else {
				e.Data = append([]byte(nil), e.Data...)
				e.Data[len(e.Data)-1] ^= 1
			}
			b, err := verify.MarshalCCEventLog(events)
			if err != nil {
				t.Fatal(err)
			}
			tampered, err := verify.ParseCCEventLog(b)
			if err != nil {
				t.Fatal(err)
			}
			c := verify.CompareCCEventLog(tampered, nil, registers(t, cos113RTMRs))
			if c.Agree {
				t.Fatal("tampered log agrees with the recorded RTMRs")
			}
			all := strings.Join(c.Differences, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("differences do not say %q:\n%s", w, all)
				}
			}
		})
	}
}

func TestCCEventLogRoundTrip(t *testing.T) {
	for _, f := range []string{"gce-cos113-tdx.bin", "gce-cos113-tdx-dupe-separator-unpadded.bin", "dstack-ccel.bin"} {
		l, err := verify.ParseCCEventLog(readCCEL(t, f))
		if err != nil {
			t.Fatal(err)
		}
		b, err := verify.MarshalCCEventLog(l.Events)
		if err != nil {
			t.Fatal(err)
		}
		// As the firmware leaves the log area: padded with 0xFF.
		b = append(b, bytes.Repeat([]byte{0xff}, 4096)...)
		back, err := verify.ParseCCEventLog(b)
		if err != nil {
			t.Fatalf("%s: parsing the marshalled log: %v", f, err)
		}
		if diff := cmp.Diff(l, back); diff != "" {
			t.Errorf("%s: round trip (-parsed +marshalled and parsed):\n%s", f, diff)
		}
	}
}

// TestCCEventLogHeaderBytes checks the marshalled Spec ID header against
// the first 32+33 bytes of the real logs, written by TdTcg2Dxe: MR index 1,
// one algorithm, SHA-384, 48 bytes.
func TestCCEventLogHeaderBytes(t *testing.T) {
	b, err := verify.MarshalCCEventLog(nil)
	if err != nil {
		t.Fatal(err)
	}
	const headerSize = 32 + 33
	if len(b) != headerSize {
		t.Fatalf("header of %d bytes, want %d", len(b), headerSize)
	}
	for _, f := range []string{"dstack-ccel.bin", "gce-cos113-tdx.bin"} {
		if sample := readCCEL(t, f); !bytes.Equal(b, sample[:headerSize]) {
			t.Errorf("header\n%x, %s's\n%x", b, f, sample[:headerSize])
		}
	}
}

func TestParseCCEventLogErrors(t *testing.T) {
	good := readCCEL(t, "gce-cos113-tdx-dupe-separator-unpadded.bin")
	mrIndex := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(mrIndex[65:], 5) // first record's MR index
	sha1Log := make([]byte, 64)                    // a TPM 1.2 log record
	noSHA384 := append([]byte(nil), good...)
	binary.LittleEndian.PutUint16(noSHA384[60:], 0x000b) // SHA-256 in the Spec ID header
	// MaxCCEvents+1 records of 16 bytes (no digest, no data): refused
	// before go-eventlog reads them.
	many, err := verify.MarshalCCEventLog(nil)
	if err != nil {
		t.Fatal(err)
	}
	for range verify.MaxCCEvents + 1 {
		many = binary.LittleEndian.AppendUint32(many, 1)
		many = binary.LittleEndian.AppendUint32(many, verify.EvAction)
		many = binary.LittleEndian.AppendUint64(many, 0)
	}
	tests := []struct {
		name string
		b    []byte
		want error
		msg  string
	}{
		{"empty", nil, verify.ErrTruncated, "shorter than its 60-byte Spec ID header"},
		{"too many records", many, verify.ErrUnsupported, "more than 16384 records"},
		{"a record without SHA-384", many[:65+16], verify.ErrMalformed, "record 1 (EV_ACTION): SHA-384 digest of 0 bytes, want 48"},
		{"TPM 1.2 log", sha1Log, verify.ErrMalformed, "does not start with a Spec ID Event03 header"},
		{"no SHA-384", noSHA384, verify.ErrUnsupported, "no SHA-384 digests"},
		{"MR index 5", mrIndex, verify.ErrMalformed, "record 1 (EV_EFI_HANDOFF_TABLES2): MR index 5"},
		{"cut in a record", good[:1000], verify.ErrMalformed, "CC event log"},
		{"too large", make([]byte, verify.MaxCCEventLogSize+1), verify.ErrUnsupported, "more than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := verify.ParseCCEventLog(tc.b)
			if !errors.Is(err, tc.want) || !strings.Contains(fmtErr(err), tc.msg) {
				t.Errorf("ParseCCEventLog: %v, want %v with %q", err, tc.want, tc.msg)
			}
		})
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// tdxPrediction predicts a direct boot of the trixie OVMF with a synthetic
// 6.12 kernel (whose EFI stub measures the command line and initrd).
func tdxPrediction(t testing.TB, cmdline string) *tdx.Result {
	t.Helper()
	fw, err := os.ReadFile("../testdata/fixtures/trixie-OVMF.fd")
	if err != nil {
		t.Fatal(err)
	}
	img, err := ovmf.Parse(fw)
	if err != nil {
		t.Fatal(err)
	}
	initrd, err := measure.HashBlob(bytes.NewReader([]byte("initrd")))
	if err != nil {
		t.Fatal(err)
	}
	l := measure.DefaultTDX()
	l.RTMRs, l.Memory = true, 2<<30
	res, err := measure.Compute(img, &measure.Boot{Kernel: tdxtest.BzImage("6.12.0-tdxtest"), Initrd: initrd, Cmdline: cmdline}, []measure.Launch{l}, measure.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return res[0].TDX
}

func synthLog(t testing.TB, events []tdx.Event) *verify.CCEventLog {
	t.Helper()
	var ev []verify.CCEvent
	for _, e := range verifytest.PredictedCCEvents(events) {
		ev = append(ev, verify.CCEvent(e))
	}
	b, err := verify.MarshalCCEventLog(ev)
	if err != nil {
		t.Fatal(err)
	}
	l, err := verify.ParseCCEventLog(b)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestCompareCCEventLogPrediction(t *testing.T) {
	pred := tdxPrediction(t, "console=ttyS0 root=/dev/vda")
	log := synthLog(t, pred.Events)

	c := verify.CompareCCEventLog(log, pred, nil)
	if !c.Agree {
		t.Fatalf("a log of the predicted events: %q", c.Differences)
	}
	if len(c.Events) != len(pred.Events) {
		t.Errorf("%d aligned events, want %d", len(c.Events), len(pred.Events))
	}
	for _, a := range c.Events {
		if a.Result != verify.EventAgree || a.Log.DataMismatch {
			t.Errorf("RTMR%d position %d: %s (data mismatch %t)", a.RTMR, a.Position, a.Result, a.Log.DataMismatch)
		}
	}
	// RTMR0 is not computable without the ACPI tables: no verdict, but
	// every predicted event is there.
	if c.RTMRs[0].Result != verify.RTMRNotPredicted || c.RTMRs[1].Result != verify.RTMRAgree || c.RTMRs[2].Result != verify.RTMRAgree {
		t.Errorf("RTMR results %s, %s, %s", c.RTMRs[0].Result, c.RTMRs[1].Result, c.RTMRs[2].Result)
	}

	// The TD booted with another command line: the comparison names the
	// EFI stub's LoadOptions event, by record index.
	other := tdxPrediction(t, "console=ttyS0 root=/dev/vda init=/bin/sh")
	c = verify.CompareCCEventLog(log, other, nil)
	if c.Agree {
		t.Fatal("a log with another command line agrees")
	}
	var differing []verify.AlignedEvent
	for _, a := range c.Events {
		if a.Result != verify.EventAgree {
			differing = append(differing, a)
		}
	}
	cmdlineRecord := 0
	for _, e := range log.Events {
		if e.Type == verify.EvEventTag && strings.Contains(e.Describe(), "LoadOptions") {
			cmdlineRecord = e.Index
		}
	}
	if len(differing) != 1 || differing[0].Result != verify.EventDiffers || differing[0].RTMR != 2 || differing[0].Log.Index != cmdlineRecord ||
		differing[0].Predicted.Kind != tdx.EventCmdline || !strings.Contains(differing[0].Predicted.Description, "init=/bin/sh") {
		t.Errorf("differing events %+v, want RTMR2's command line, log record %d", differing, cmdlineRecord)
	}
	if len(c.Differences) != 1 || !strings.Contains(c.Differences[0], "LOADED_IMAGE::LoadOptions") {
		t.Errorf("differences %q", c.Differences)
	}

	// A missing and an extra event.
	cut := append([]tdx.Event(nil), pred.Events...)
	for i, e := range cut {
		if e.Kind == tdx.EventInitrd {
			cut = append(cut[:i], cut[i+1:]...)
			break
		}
	}
	c = verify.CompareCCEventLog(synthLog(t, cut), pred, nil)
	if c.Agree || c.RTMRs[2].Result != verify.RTMRDiffers || !strings.Contains(strings.Join(c.Differences, "\n"), "predicted initrd event missing from the log") {
		t.Errorf("log without the initrd event: %q", c.Differences)
	}
	c = verify.CompareCCEventLog(log, &tdx.Result{MRTD: pred.MRTD, RTMRs: pred.RTMRs, Reasons: pred.Reasons, Events: cut}, nil)
	if c.Agree || !strings.Contains(strings.Join(c.Differences, "\n"), "RTMR2 log record") {
		t.Errorf("log with an unpredicted initrd event: %q", c.Differences)
	}
}

func TestCompareCCEventLogQuote(t *testing.T) {
	pred := tdxPrediction(t, "console=ttyS0")
	log := synthLog(t, pred.Events)
	replayed := log.Replay()
	regs := []verify.Register{{Name: "MRTD", Value: pred.MRTD[:]}}
	for i := range replayed {
		regs = append(regs, verify.Register{Name: "RTMR" + string(rune('0'+i)), Value: append([]byte(nil), replayed[i][:]...)})
	}
	c := verify.CompareCCEventLog(log, pred, regs)
	if !c.Agree || c.MRTD == nil || !c.MRTD.Agree || c.RTMRs[1].Quote == nil {
		t.Fatalf("quote of the replayed log: %q", c.Differences)
	}
	regs[0].Value = append([]byte(nil), regs[0].Value...)
	regs[0].Value[0] ^= 1
	regs[3].Value[0] ^= 1 // RTMR2
	c = verify.CompareCCEventLog(log, pred, regs)
	all := strings.Join(c.Differences, "\n")
	if c.Agree || c.MRTD.Agree || !strings.Contains(all, "MRTD: predicted") || !strings.Contains(all, "RTMR2: the log replays to") || !strings.Contains(all, "RTMR2: predicted") {
		t.Errorf("quote with another MRTD and RTMR2: %s", all)
	}
}

func FuzzParseCCEventLog(f *testing.F) {
	for _, name := range []string{"gce-cos113-tdx-dupe-separator-unpadded.bin", "dstack-ccel.bin"} {
		b := readCCEL(f, name)
		f.Add(b[:min(len(b), 4096)])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := verify.ParseCCEventLog(b)
		if err != nil {
			if !errors.Is(err, verify.ErrMalformed) && !errors.Is(err, verify.ErrTruncated) && !errors.Is(err, verify.ErrUnsupported) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		for _, e := range l.Events {
			if d := e.Describe(); !shownSafely(d) {
				t.Fatalf("record %d: description %q has a control character", e.Index, d)
			}
			_, _ = e.DataCovered()
		}
		for _, d := range verify.CompareCCEventLog(l, nil, nil).Differences {
			if !shownSafely(d) {
				t.Fatalf("difference %q has a control character", d)
			}
		}
		out, err := verify.MarshalCCEventLog(l.Events)
		if err != nil {
			t.Fatal(err)
		}
		back, err := verify.ParseCCEventLog(out)
		if err != nil {
			t.Fatalf("re-parsing the marshalled log: %v", err)
		}
		if len(back.Events) != len(l.Events) || back.Replay() != l.Replay() {
			t.Fatalf("round trip: %d events, want %d", len(back.Events), len(l.Events))
		}
	})
}
