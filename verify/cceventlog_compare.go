package verify

import (
	"bytes"
	"fmt"

	"github.com/measure-cc/measure/measure/tdx"
)

// EventMatch is how one position of the aligned logs compares.
type EventMatch string

// Event comparison results.
const (
	// EventAgree: the logged digest equals the predicted one.
	EventAgree EventMatch = "agree"
	// EventDiffers: a logged and a predicted event of the same kind, at
	// the same place, with different digests.
	EventDiffers EventMatch = "differs"
	// EventOnlyInLog: an event the prediction does not have.
	EventOnlyInLog EventMatch = "only-in-log"
	// EventOnlyInPrediction: a predicted event the log does not have.
	EventOnlyInPrediction EventMatch = "only-in-prediction"
)

// LoggedEvent is a CC event log record as a comparison shows it.
type LoggedEvent struct {
	// Index is the record's number in the log (CCEvent.Index).
	Index       int        `json:"index"`
	Type        string     `json:"type"`
	Digest      tdx.Digest `json:"digest"`
	Description string     `json:"description"`
	// DataMismatch says that the digest is not SHA-384 of the bytes the
	// event's data must hash to (CCEvent.DataCovered): the record was
	// altered, or its data does not describe what was measured.
	DataMismatch bool `json:"data_mismatch,omitempty"`
}

func loggedEvent(e *CCEvent) *LoggedEvent {
	checked, ok := e.DataCovered()
	return &LoggedEvent{Index: e.Index, Type: e.TypeName(), Digest: e.Digest, Description: e.Describe(), DataMismatch: checked && !ok}
}

// AlignedEvent is one position of an RTMR's aligned log and prediction.
type AlignedEvent struct {
	RTMR int `json:"rtmr"`
	// Position is the event's place among the RTMR's aligned events, from
	// 0.
	Position  int          `json:"position"`
	Result    EventMatch   `json:"result"`
	Log       *LoggedEvent `json:"log,omitempty"`
	Predicted *tdx.Event   `json:"predicted,omitempty"`
}

// RTMR comparison results.
const (
	RTMRAgree        = "agree"
	RTMRDiffers      = "differs"
	RTMRNotPredicted = "not-predicted"
)

// RTMRComparison compares one RTMR: replayed from the log, predicted, and
// as a quote reports it.
type RTMRComparison struct {
	RTMR     int        `json:"rtmr"`
	Replayed tdx.Digest `json:"replayed"`
	// Predicted is nil when the prediction cannot compute it, with the
	// reason in NotComputable.
	Predicted     *tdx.Digest `json:"predicted,omitempty"`
	NotComputable string      `json:"not_computable,omitempty"`
	// Quote is the quote's value, when a quote was given.
	Quote *tdx.Digest `json:"quote,omitempty"`
	// Result is RTMRAgree, RTMRDiffers, or RTMRNotPredicted when the
	// prediction is nil and nothing that was predicted differs.
	Result string `json:"result"`
}

// Results of a whole event log comparison (EventLogComparison.Result).
const (
	// LogAgree: nothing compared differs, and the prediction computes at
	// least one of RTMR0, RTMR1 and RTMR2.
	LogAgree = "agree"
	// LogDiffers: something compared differs.
	LogDiffers = "differs"
	// LogNotPredicted: nothing compared differs, but the prediction
	// computes none of RTMR0, RTMR1 and RTMR2, the registers the firmware
	// and the boot extend: the comparison shows nothing about what booted.
	// (RTMR3, which neither OVMF nor the EFI stub extends, is predicted to
	// stay zero; that it does says nothing about the boot.)
	LogNotPredicted = "not-predicted"
)

// bootRTMRs is how many RTMRs, from RTMR0, the firmware and the boot
// extend.
const bootRTMRs = 3

// MRTDComparison compares the predicted MRTD with the quote's.
type MRTDComparison struct {
	Predicted tdx.Digest `json:"predicted"`
	Quote     tdx.Digest `json:"quote"`
	Agree     bool       `json:"agree"`
}

// EventLogComparison is a CC event log compared, event by event, with a
// predicted one, and with a quote's registers.
type EventLogComparison struct {
	RTMRs [4]RTMRComparison `json:"rtmrs"`
	// Events are the aligned events, RTMR0's first, each RTMR's in order.
	Events []AlignedEvent  `json:"events,omitempty"`
	MRTD   *MRTDComparison `json:"mrtd,omitempty"`
	// NotExtended are records that extend no RTMR (EV_NO_ACTION, MR index
	// 0).
	NotExtended []LoggedEvent `json:"not_extended,omitempty"`
	// Differences say, one line each, what differs: located by RTMR, log
	// record index and description. Empty when everything agrees.
	Differences []string `json:"differences,omitempty"`
	// Agree is true when nothing compared differs.
	Agree bool `json:"agree"`
	// PredictedRTMRs are the RTMRs whose value the prediction computes,
	// compared with the replayed log (and the quote); NotPredictedRTMRs
	// the others, with the reason in RTMRs[i].NotComputable.
	PredictedRTMRs    []int `json:"predicted_rtmrs"`
	NotPredictedRTMRs []int `json:"not_predicted_rtmrs,omitempty"`
	// Result is LogDiffers when something differs, else LogAgree or, when
	// none of RTMR0-RTMR2 was predicted, LogNotPredicted.
	Result string `json:"result"`
}

// maxAlignCells bounds the table of the alignment of one RTMR (log events
// times predicted events); larger ones are aligned in order without it.
const maxAlignCells = 1 << 22

// CompareCCEventLog aligns log with the predicted events of pred, RTMR by
// RTMR and in order (a longest common subsequence of equal digests; between
// two agreeing events, logged and predicted events of compatible kinds are
// paired as differing), and compares the replayed and predicted RTMRs with
// the registers a quote reports (TDXQuote.Registers; none to compare with
// none). pred nil compares the log with the registers alone. Something
// differs when a pair of events differs, a predicted event is missing, the
// log has an event the prediction lacks in an RTMR the prediction computes,
// a record's data does not hash to its digest (where it must), the replay
// differs from the quote, or a predicted MRTD or RTMR differs from the
// quote.
func CompareCCEventLog(log *CCEventLog, pred *tdx.Result, quoted []Register) *EventLogComparison {
	c := &EventLogComparison{Events: []AlignedEvent{}}
	predicted := pred != nil
	if !predicted {
		pred = &tdx.Result{}
		for i := range pred.Reasons {
			pred.Reasons[i] = "no prediction was given"
		}
	}
	replayed := log.Replay()
	var quotedRTMR [4]*tdx.Digest
	for _, r := range quoted {
		var d tdx.Digest
		if len(r.Value) != len(d) {
			continue
		}
		copy(d[:], r.Value)
		switch r.Name {
		case "MRTD":
			if !predicted {
				continue
			}
			c.MRTD = &MRTDComparison{Predicted: pred.MRTD, Quote: d, Agree: d == pred.MRTD}
			if !c.MRTD.Agree {
				c.differ("MRTD: predicted %s, quote %s", pred.MRTD, d)
			}
		case "RTMR0", "RTMR1", "RTMR2", "RTMR3":
			quotedRTMR[r.Name[4]-'0'] = &d
		}
	}
	var inLog, inPrediction [4][]int
	for i := range log.Events {
		e := &log.Events[i]
		if !e.Extends() {
			c.NotExtended = append(c.NotExtended, *loggedEvent(e))
			continue
		}
		inLog[e.RTMR()] = append(inLog[e.RTMR()], i)
	}
	for i, e := range pred.Events {
		if e.RTMR >= 0 && e.RTMR < 4 {
			inPrediction[e.RTMR] = append(inPrediction[e.RTMR], i)
		}
	}
	c.PredictedRTMRs = []int{}
	for r := range 4 {
		// The prediction's text (a reason, an event's description) may
		// quote the firmware's own strings: escaped like the log's.
		rc := RTMRComparison{RTMR: r, Replayed: replayed[r], Predicted: pred.RTMRs[r], NotComputable: escapeText(pred.Reasons[r]), Quote: quotedRTMR[r]}
		if rc.Predicted != nil {
			c.PredictedRTMRs = append(c.PredictedRTMRs, r)
		} else {
			c.NotPredictedRTMRs = append(c.NotPredictedRTMRs, r)
		}
		differs := false
		for pos, a := range align(log, inLog[r], pred, inPrediction[r]) {
			a.RTMR, a.Position = r, pos
			where := ""
			if a.Log != nil {
				where = fmt.Sprintf("log record %d (%s %s)", a.Log.Index, a.Log.Type, a.Log.Description)
				if a.Log.DataMismatch {
					differs = true
					c.differ("RTMR%d %s: its digest %s is not SHA-384 of its data", r, where, a.Log.Digest)
				}
			}
			switch a.Result {
			case EventDiffers:
				differs = true
				c.differ("RTMR%d %s: digest %s, predicted %s (%s: %s)", r, where, a.Log.Digest, a.Predicted.Digest, a.Predicted.Kind, a.Predicted.Description)
			case EventOnlyInPrediction:
				differs = true
				c.differ("RTMR%d: predicted %s event missing from the log: %s, digest %s", r, a.Predicted.Kind, a.Predicted.Description, a.Predicted.Digest)
			case EventOnlyInLog:
				if rc.Predicted != nil {
					differs = true
					c.differ("RTMR%d %s: not in the prediction", r, where)
				}
			}
			c.Events = append(c.Events, a)
		}
		if rc.Predicted != nil && *rc.Predicted != rc.Replayed && !differs {
			differs = true
			c.differ("RTMR%d: the log replays to %s, predicted %s", r, rc.Replayed, rc.Predicted)
		}
		if q := rc.Quote; q != nil {
			if *q != rc.Replayed {
				differs = true
				c.differ("RTMR%d: the log replays to %s, the quote has %s: the log does not belong to the quote's TD, or it was altered", r, rc.Replayed, q)
			}
			if rc.Predicted != nil && *rc.Predicted != *q {
				differs = true
				c.differ("RTMR%d: predicted %s, the quote has %s", r, rc.Predicted, q)
			}
		}
		switch {
		case differs:
			rc.Result = RTMRDiffers
		case rc.Predicted == nil:
			rc.Result = RTMRNotPredicted
		default:
			rc.Result = RTMRAgree
		}
		c.RTMRs[r] = rc
	}
	for _, e := range c.NotExtended {
		if e.DataMismatch {
			c.differ("log record %d (%s %s): its digest is not SHA-384 of its data", e.Index, e.Type, e.Description)
		}
	}
	c.Agree = len(c.Differences) == 0
	switch {
	case !c.Agree:
		c.Result = LogDiffers
	case len(c.PredictedRTMRs) == 0 || c.PredictedRTMRs[0] >= bootRTMRs:
		c.Result = LogNotPredicted
	default:
		c.Result = LogAgree
	}
	return c
}

func (c *EventLogComparison) differ(format string, a ...any) {
	c.Differences = append(c.Differences, fmt.Sprintf(format, a...))
}

// predictedEvent is a predicted event as a comparison shows it: a copy,
// its description escaped.
func predictedEvent(e *tdx.Event) *tdx.Event {
	c := *e
	c.Description = escapeText(c.Description)
	return &c
}

// align aligns one RTMR's logged events (indices into log.Events) with its
// predicted ones (indices into pred.Events).
func align(log *CCEventLog, li []int, pred *tdx.Result, pi []int) []AlignedEvent {
	n, m := len(li), len(pi)
	match := func(i, j int) bool { return log.Events[li[i]].Digest == pred.Events[pi[j]].Digest }
	// pairs are the agreeing (i, j), in order.
	var pairs [][2]int
	if (n+1)*(m+1) <= maxAlignCells {
		// lcs[i][j] is the length of the longest common subsequence of
		// li[i:] and pi[j:].
		lcs := make([][]int32, n+1)
		for i := range lcs {
			lcs[i] = make([]int32, m+1)
		}
		for i := n - 1; i >= 0; i-- {
			for j := m - 1; j >= 0; j-- {
				switch {
				case match(i, j):
					lcs[i][j] = lcs[i+1][j+1] + 1
				case lcs[i+1][j] >= lcs[i][j+1]:
					lcs[i][j] = lcs[i+1][j]
				default:
					lcs[i][j] = lcs[i][j+1]
				}
			}
		}
		for i, j := 0, 0; i < n && j < m; {
			switch {
			case match(i, j) && lcs[i][j] == lcs[i+1][j+1]+1:
				pairs = append(pairs, [2]int{i, j})
				i++
				j++
			case lcs[i+1][j] >= lcs[i][j+1]:
				i++
			default:
				j++
			}
		}
	} else {
		for i, j := 0, 0; i < n && j < m; i++ {
			if match(i, j) {
				pairs = append(pairs, [2]int{i, j})
				j++
			}
		}
	}
	var out []AlignedEvent
	i, j := 0, 0
	for _, p := range append(pairs, [2]int{n, m}) {
		out = append(out, alignGap(log, li[i:p[0]], pred, pi[j:p[1]])...)
		if p[0] < n {
			out = append(out, AlignedEvent{Result: EventAgree, Log: loggedEvent(&log.Events[li[p[0]]]), Predicted: predictedEvent(&pred.Events[pi[p[1]]])})
		}
		i, j = p[0]+1, p[1]+1
	}
	return out
}

// alignGap pairs the events between two agreeing ones: a logged and a
// predicted event of compatible kinds, in order, differ; the others are
// only in the log or only in the prediction.
func alignGap(log *CCEventLog, li []int, pred *tdx.Result, pi []int) []AlignedEvent {
	var out []AlignedEvent
	i, j := 0, 0
	compatibleLater := func(i, from int) bool {
		for k := from; k < len(pi); k++ {
			if compatible(&log.Events[li[i]], pred.Events[pi[k]].Kind) {
				return true
			}
		}
		return false
	}
	for i < len(li) || j < len(pi) {
		switch {
		case j == len(pi):
			out = append(out, AlignedEvent{Result: EventOnlyInLog, Log: loggedEvent(&log.Events[li[i]])})
			i++
		case i == len(li):
			out = append(out, AlignedEvent{Result: EventOnlyInPrediction, Predicted: predictedEvent(&pred.Events[pi[j]])})
			j++
		case compatible(&log.Events[li[i]], pred.Events[pi[j]].Kind):
			out = append(out, AlignedEvent{Result: EventDiffers, Log: loggedEvent(&log.Events[li[i]]), Predicted: predictedEvent(&pred.Events[pi[j]])})
			i++
			j++
		case compatibleLater(i, j+1):
			out = append(out, AlignedEvent{Result: EventOnlyInPrediction, Predicted: predictedEvent(&pred.Events[pi[j]])})
			j++
		default:
			out = append(out, AlignedEvent{Result: EventOnlyInLog, Log: loggedEvent(&log.Events[li[i]])})
			i++
		}
	}
	return out
}

// kindTypes are the event types OVMF and the Linux EFI stub log for each
// kind of predicted event; a kind not listed pairs with any type.
var kindTypes = map[tdx.EventKind][]uint32{
	tdx.EventTDHOB:        {EvEFIHandoffTables2, EvEFIHandoffTables},
	tdx.EventCFV:          {EvEFIPlatformFirmwareBlob2, EvEFIPlatformFirmwareBlob},
	tdx.EventEFIVariable:  {EvEFIVariableDriverConfig},
	tdx.EventSeparator:    {EvSeparator},
	tdx.EventACPILoader:   {EvPlatformConfigFlags},
	tdx.EventACPIRSDP:     {EvPlatformConfigFlags},
	tdx.EventACPITables:   {EvPlatformConfigFlags},
	tdx.EventBootVariable: {EvEFIVariableBoot, EvEFIVariableBoot2},
	tdx.EventKernel:       {EvEFIBootServicesApp},
	tdx.EventEFIAction:    {EvEFIAction},
	tdx.EventCmdline:      {EvEventTag},
	tdx.EventInitrd:       {EvEventTag},
}

func compatible(e *CCEvent, k tdx.EventKind) bool {
	// The EFI stub tags its two events by what they measure.
	switch {
	case k == tdx.EventCmdline && e.Type == EvEventTag:
		return bytes.Contains(e.Data, []byte("LoadOptions"))
	case k == tdx.EventInitrd && e.Type == EvEventTag:
		return bytes.Contains(e.Data, []byte("initrd"))
	}
	types, ok := kindTypes[k]
	if !ok {
		return true
	}
	for _, t := range types {
		if e.Type == t {
			return true
		}
	}
	return false
}
