package verify_test

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/measure-cc/measure/measure/tdx"
	"github.com/measure-cc/measure/verify"
)

// shownSafely reports whether s can be printed as one line that does
// nothing to a terminal: valid UTF-8, every rune graphic or a space.
func shownSafely(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r != ' ' && !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// utf16le encodes s as little-endian UTF-16 without a NUL.
func utf16le(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

// filePathNode is a media file path device path node, then the end node.
func filePathNode(path string) []byte {
	name := append(utf16le(path), 0, 0)
	b := []byte{0x04, 0x04}
	b = binary.LittleEndian.AppendUint16(b, uint16(4+len(name)))
	b = append(b, name...)
	return append(b, 0x7f, 0xff, 0x04, 0x00)
}

// imageLoadEvent is a UEFI_IMAGE_LOAD_EVENT with device path dp.
func imageLoadEvent(dp []byte) []byte {
	b := make([]byte, 24)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(dp)))
	return append(b, dp...)
}

// variableData is a UEFI_VARIABLE_DATA of variable name with data.
func variableData(name string, data []byte) []byte {
	b := make([]byte, 16)
	n := utf16le(name)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(n)/2))
	b = binary.LittleEndian.AppendUint64(b, uint64(len(data)))
	return append(append(b, n...), data...)
}

// loadOption is an active EFI_LOAD_OPTION with description desc and file
// path list dp.
func loadOption(desc string, dp []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 1)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(dp)))
	b = append(append(b, utf16le(desc)...), 0, 0)
	return append(b, dp...)
}

// fakeLine is what a crafted record tries to print: a line of its own
// claiming agreement, then an escape sequence that hides what follows.
const fakeLine = "kernel\n\nagree: every event compared agrees\n\x1b[8m"

// TestDescribeEscapes: a record's data is the log's, not covered by its
// digest for images and boot options; a description shows its strings
// quoted or escaped, never raw control characters.
func TestDescribeEscapes(t *testing.T) {
	tests := []struct {
		name string
		e    verify.CCEvent
		want string // in the description
	}{
		{"image file path", verify.CCEvent{Type: verify.EvEFIBootServicesApp, Data: imageLoadEvent(filePathNode(fakeLine))},
			`"kernel\n\nagree: every event compared agrees\n\x1b[8m"`},
		{"image file path reversed", verify.CCEvent{Type: verify.EvEFIBootServicesApp, Data: imageLoadEvent(filePathNode("\u202eife.xunil"))},
			`"\u202eife.xunil"`},
		{"plain image file path", verify.CCEvent{Type: verify.EvEFIBootServicesApp, Data: imageLoadEvent(filePathNode(`\EFI\BOOT\BOOTX64.EFI`))},
			`bytes, \EFI\BOOT\BOOTX64.EFI`},
		{"variable name", verify.CCEvent{Type: verify.EvEFIVariableDriverConfig, Data: variableData("PK\nagree: x\x1b[8m", nil)},
			`"PK\nagree: x\x1b[8m" (empty`},
		{"variable name with a line break", verify.CCEvent{Type: verify.EvEFIVariableDriverConfig, Data: variableData("PK\nagree: every event compared agrees", nil)},
			`"PK\nagree: every event compared agrees" (empty`},
		{"variable name with a tab", verify.CCEvent{Type: verify.EvEFIVariableDriverConfig, Data: variableData("db\tx", []byte{1})},
			`"db\tx" = 1`},
		{"boot option", verify.CCEvent{Type: verify.EvEFIVariableBoot, Data: variableData("Boot0001", loadOption("UiApp\n\x1b[8m", filePathNode(fakeLine)))},
			`Boot0001: "UiApp\n\x1b[8m" "kernel\n`},
		{"EV_IPL", verify.CCEvent{Type: verify.EvIPL, Data: []byte("grub_cmd: linux\nagree: x\x00")},
			`"grub_cmd: linux\nagree: x"`},
		{"EV_IPL with an escape", verify.CCEvent{Type: verify.EvIPL, Data: []byte("grub_cmd: linux\n\x1b[8m\x00")}, "21 bytes"},
		{"tagged event", verify.CCEvent{Type: verify.EvEventTag, Data: append([]byte{0xed, 0x22, 0x3b, 0x8f, 9, 0, 0, 0}, "a\nagree: "...)},
			`tag 0x8f3b22ed "a\nagree: "`},
		{"no action", verify.CCEvent{Type: verify.EvNoAction, Data: []byte("Spec\nagree\x00")}, `"Spec\nagree"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.e.Describe()
			if !shownSafely(d) || !strings.Contains(d, tc.want) {
				t.Errorf("Describe() = %s, want %s in it and no control character", d, tc.want)
			}
		})
	}
}

// TestCompareCCEventLogEscapes: the comparison's text (descriptions, the
// lines of what differs) carries no control character from the log, nor
// from the prediction (whose boot option quotes the firmware's UiApp
// name).
func TestCompareCCEventLogEscapes(t *testing.T) {
	pred := tdxPrediction(t, "console=ttyS0 root=/dev/vda")
	events := slices.Clone(pred.Events)
	for i := range events {
		if events[i].Kind == tdx.EventKernel {
			events[i].Description = "kernel\n\x1b[8m"
		}
	}
	log := synthLog(t, events)
	// The kernel's record, with data of the attacker's choosing (the
	// digest covers the kernel, not this).
	for i := range log.Events {
		if log.Events[i].Type == verify.EvEFIBootServicesApp {
			log.Events[i].Data = imageLoadEvent(filePathNode(fakeLine))
			log.Events[i].Digest[0] ^= 1
		}
	}
	c := verify.CompareCCEventLog(log, &tdx.Result{MRTD: pred.MRTD, RTMRs: pred.RTMRs, Reasons: pred.Reasons, Events: events}, nil)
	if c.Agree || len(c.Differences) == 0 {
		t.Fatalf("a log with another kernel agrees")
	}
	for _, d := range c.Differences {
		if !shownSafely(d) {
			t.Errorf("difference %q has a control character", d)
		}
	}
	if !strings.Contains(strings.Join(c.Differences, "\n"), `"kernel\n\nagree: every event compared agrees\n\x1b[8m"`) {
		t.Errorf("no difference locates the kernel record: %q", c.Differences)
	}
	for _, a := range c.Events {
		if a.Log != nil && !shownSafely(a.Log.Description) || a.Predicted != nil && !shownSafely(a.Predicted.Description) {
			t.Errorf("RTMR%d position %d: description with a control character: %+v %+v", a.RTMR, a.Position, a.Log, a.Predicted)
		}
	}
	if events[0].Description == "" || pred.Events[0].Description != events[0].Description {
		t.Errorf("the prediction's events were changed")
	}
}

// TestCompareCCEventLogResult: nothing differing is "agree" only when one
// of RTMR0-2, which the firmware and the boot extend, was predicted.
func TestCompareCCEventLogResult(t *testing.T) {
	pred := tdxPrediction(t, "console=ttyS0 root=/dev/vda")
	log := synthLog(t, pred.Events)
	only3 := *pred
	only3.RTMRs = [4]*tdx.Digest{nil, nil, nil, pred.RTMRs[3]}
	var rtmr0to2 []tdx.Event
	for _, e := range pred.Events {
		if e.RTMR == 0 {
			rtmr0to2 = append(rtmr0to2, e)
		}
	}
	only3.Events = rtmr0to2
	for i := range 3 {
		only3.Reasons[i] = "not given"
	}
	other := tdxPrediction(t, "quiet")
	tests := []struct {
		name         string
		pred         *tdx.Result
		want         string
		predicted    []int
		notPredicted []int
	}{
		{"RTMR1-3 predicted", pred, verify.LogAgree, []int{1, 2, 3}, []int{0}},
		{"only RTMR3 predicted", &only3, verify.LogNotPredicted, []int{3}, []int{0, 1, 2}},
		{"no prediction", nil, verify.LogNotPredicted, []int{}, []int{0, 1, 2, 3}},
		{"another command line", other, verify.LogDiffers, []int{1, 2, 3}, []int{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := verify.CompareCCEventLog(log, tc.pred, nil)
			if c.Result != tc.want || !slices.Equal(c.PredictedRTMRs, tc.predicted) || !slices.Equal(c.NotPredictedRTMRs, tc.notPredicted) {
				t.Errorf("Result %s, predicted %v, not predicted %v; want %s, %v, %v (differences %q)",
					c.Result, c.PredictedRTMRs, c.NotPredictedRTMRs, tc.want, tc.predicted, tc.notPredicted, c.Differences)
			}
			if c.Agree != (tc.want != verify.LogDiffers) {
				t.Errorf("Agree %t with result %s", c.Agree, c.Result)
			}
		})
	}
}
