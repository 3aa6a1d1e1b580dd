package verify

import (
	"crypto/sha512"
	"errors"
	"fmt"

	"github.com/measure-cc/measure/measure"
	"github.com/measure-cc/measure/measure/tdx"
	"github.com/measure-cc/measure/ovmf"
)

// TDXSpace is the set of TDX launches a search covers.
type TDXSpace struct {
	// Orders are the page-add orders (single-pass and two-pass when nil).
	Orders []tdx.PageAddOrder
	// Memories are the guest RAM sizes tried where the memory matters:
	// for MRTD when the TD_HOB section has MR.EXTEND, for the TD HOB event
	// of an event log (DefaultTDXMemories when nil).
	Memories []uint64
	// QEMU are the QEMU releases tried for the RTMRs, which change with
	// them only through the kernel setup header QEMU patches up to 10.1
	// (DefaultTDXQEMUVersions when nil).
	QEMU []tdx.QEMUVersion
}

// DefaultTDXMemories are the guest RAM sizes explain tries: 128 MiB
// (QEMU's default), then every multiple of 256 MiB to 64 GiB, every GiB to
// 1 TiB, and 2 and 4 TiB. Each costs one TD HOB digest; an MRTD that
// measures the TD HOB costs a firmware hash each.
func DefaultTDXMemories() []uint64 {
	out := []uint64{tdx.DefaultMemory}
	for m := uint64(256 << 20); m <= 64<<30; m += 256 << 20 {
		out = append(out, m)
	}
	for m := uint64(65 << 30); m <= 1<<40; m += 1 << 30 {
		out = append(out, m)
	}
	return append(out, 2<<40, 4<<40)
}

// DefaultTDXQEMUVersions are a QEMU that patches the kernel setup header
// (10.1) and one that does not (10.2), and an 8.2 of the out-of-tree
// stacks, whose default is two-pass.
var DefaultTDXQEMUVersions = []tdx.QEMUVersion{{Major: 8, Minor: 2}, {Major: 10, Minor: 1}, {Major: 10, Minor: 2}}

// mrtdMemories are the memory sizes an MRTD that measures the TD HOB is
// searched over without an event log to narrow them (one firmware hash
// each).
var mrtdMemories = []uint64{128 << 20, 256 << 20, 512 << 20, 1 << 30, 2 << 30, 4 << 30, 8 << 30, 16 << 30, 32 << 30, 64 << 30, 128 << 30, 256 << 30, 512 << 30, 1 << 40}

func (s TDXSpace) withDefaults() TDXSpace {
	if s.Orders == nil {
		s.Orders = []tdx.PageAddOrder{tdx.SinglePass, tdx.TwoPass}
	}
	if s.Memories == nil {
		s.Memories = DefaultTDXMemories()
	}
	if s.QEMU == nil {
		s.QEMU = DefaultTDXQEMUVersions
	}
	return s
}

// TDXLaunch is a TDX launch explain found: the flags of measure tdx.
type TDXLaunch struct {
	PageAddOrder tdx.PageAddOrder `json:"page_add_order"`
	// Memory is the guest RAM; 0 when it does not matter (no event log
	// and an MRTD that does not measure the TD HOB).
	Memory uint64 `json:"-"`
	// QEMU is the release whose RTMR prediction the event log was
	// compared with; zero without an event log.
	QEMU tdx.QEMUVersion `json:"-"`
}

// TDXExplanation is the outcome of a TDX search.
type TDXExplanation struct {
	// MRTD is the quote's.
	MRTD tdx.Digest
	// HOBMeasured says whether MRTD measures the TD HOB (and so the
	// memory size).
	HOBMeasured bool
	// Found are the launches whose MRTD equals the quote's.
	Found []TDXLaunch
	// Searched counts the MRTDs computed.
	Searched int
	// EventLog says that an event log was given: the explanation then
	// needs its comparison.
	EventLog bool
	// LogTDHOB is the digest of the event log's TD HOB event (RTMR0's
	// EV_EFI_HANDOFF_TABLES2); nil without an event log or such an event.
	LogTDHOB *tdx.Digest
	// LogMemories are the memory sizes tried whose TD HOB digest is
	// LogTDHOB; empty when there is none, and then the search does not
	// narrow to them.
	LogMemories []uint64
	// Best is the launch whose prediction agrees best with the event log,
	// Comparison that comparison (with the quote's registers); nil without
	// an event log, or when no launch tried could be predicted.
	Best       *TDXLaunch
	Comparison *EventLogComparison
}

// Explained reports whether a launch reproduces the quote's MRTD and, with
// an event log, whether the log was compared, replays to the quote's RTMRs
// and agrees with that launch's prediction.
func (x *TDXExplanation) Explained() bool {
	if len(x.Found) == 0 {
		return false
	}
	if !x.EventLog {
		return true
	}
	return x.Comparison != nil && x.Comparison.Agree
}

// ErrNotPredicted reports an event log that was compared with no
// prediction: the RTMRs of no launch tried could be predicted.
var ErrNotPredicted = errors.New("no launch tried gives a prediction of the RTMRs")

// ExplainTDX searches the TDX launches of img booting boot (nil: no direct
// boot) for those whose MRTD is the quote's (quoted: TDXQuote.Registers),
// over space's page-add orders, and its memory sizes when MRTD measures
// the TD HOB. With log, it also finds the memory sizes whose TD HOB digest
// is the log's, and compares the log with the quote and with the
// prediction of each QEMU release for the launches found, keeping the one
// that agrees best. When no launch reproduces MRTD, it returns the
// explanation and an error wrapping ErrNoConfiguration; when a log is
// given but no launch's RTMRs can be predicted (the kernel is not one, for
// example), the explanation and an error wrapping ErrNotPredicted and the
// last prediction's error.
func ExplainTDX(img *ovmf.Image, boot *measure.Boot, quoted []Register, log *CCEventLog, space TDXSpace) (*TDXExplanation, error) {
	space = space.withDefaults()
	x := &TDXExplanation{}
	var haveMRTD bool
	for _, r := range quoted {
		if r.Name == "MRTD" && len(r.Value) == len(x.MRTD) {
			copy(x.MRTD[:], r.Value)
			haveMRTD = true
		}
	}
	if !haveMRTD {
		return nil, fmt.Errorf("%w: the evidence has no MRTD", ErrPlatform)
	}
	md, err := img.TDVFMetadata()
	if err != nil {
		return nil, err
	}
	if s, ok := md.Section(ovmf.TDVFSectionTDHOB); ok && s.Attributes&ovmf.TDVFAttrMRExtend != 0 {
		x.HOBMeasured = true
	}
	if log != nil {
		x.EventLog = true
		x.LogTDHOB, x.LogMemories = logMemories(md, log, space.Memories)
	}
	memories := []uint64{0}
	if x.HOBMeasured {
		memories = mrtdMemories
		// A TD HOB event that matches no size tried (a size outside the
		// space, a VMM that lays the HOB out otherwise) narrows nothing.
		if len(x.LogMemories) > 0 {
			memories = x.LogMemories
		}
	}
	m := measure.NewMeasurer(img, nil, measure.Options{})
	for _, order := range space.Orders {
		for _, mem := range memories {
			l := measure.DefaultTDX()
			l.PageAddOrder = order
			if mem != 0 {
				l.Memory = mem
			}
			r, err := m.Measure(l)
			if err != nil {
				return nil, err
			}
			x.Searched++
			if v, _ := r.Value(measure.MRTD); string(v.Bytes()) == string(x.MRTD[:]) {
				x.Found = append(x.Found, TDXLaunch{PageAddOrder: order, Memory: mem})
			}
		}
	}
	if len(x.Found) == 0 {
		err = fmt.Errorf("%w: no page-add order%s of this firmware gives MRTD %s (searched %d)", ErrNoConfiguration, map[bool]string{true: " and memory size", false: ""}[x.HOBMeasured], x.MRTD, x.Searched)
	}
	if log == nil {
		return x, err
	}
	if perr := x.compareLog(img, boot, quoted, log, space); perr != nil {
		return x, fmt.Errorf("%w: %w", ErrNotPredicted, perr)
	}
	return x, err
}

// logMemories returns the digest of the log's TD HOB event, and the memory
// sizes whose TD HOB has it.
func logMemories(md *ovmf.TDVFMetadata, log *CCEventLog, memories []uint64) (*tdx.Digest, []uint64) {
	var want *tdx.Digest
	for i := range log.Events {
		e := &log.Events[i]
		if e.RTMR() == 0 && (e.Type == EvEFIHandoffTables2 || e.Type == EvEFIHandoffTables) {
			d := e.Digest
			want = &d
			break
		}
	}
	if want == nil {
		return nil, nil
	}
	var out []uint64
	for _, mem := range memories {
		ram, err := tdx.TDRAM(md, tdx.Q35RAM(mem))
		if err != nil {
			continue
		}
		hob, err := tdx.NewTDHOB(md, ram)
		if err != nil {
			continue
		}
		if tdx.Digest(sha512.Sum384(hob.Measured())) == *want {
			out = append(out, mem)
		}
	}
	return want, out
}

// compareLog compares the log with the prediction of each launch found (or
// of each page-add order, when none was), each memory the log's TD HOB
// gives (or the default), and each QEMU release, keeping the comparison
// with the fewest differences and the most agreeing events. When no
// prediction could be made, it returns the last one's error.
func (x *TDXExplanation) compareLog(img *ovmf.Image, boot *measure.Boot, quoted []Register, log *CCEventLog, space TDXSpace) error {
	launches := x.Found
	if len(launches) == 0 {
		for _, o := range space.Orders {
			launches = append(launches, TDXLaunch{PageAddOrder: o})
		}
	}
	memories := x.LogMemories
	if len(memories) == 0 {
		memories = []uint64{tdx.DefaultMemory}
	}
	m := measure.NewMeasurer(img, boot, measure.Options{})
	bestScore := [2]int{-1, 0}
	var lastErr error
	for _, f := range launches {
		mems := memories
		if f.Memory != 0 {
			mems = []uint64{f.Memory}
		}
		for _, mem := range mems {
			for _, q := range space.QEMU {
				l := measure.TDX{PageAddOrder: f.PageAddOrder, QEMU: q, Memory: mem, RTMRs: true}
				r, err := m.Measure(l)
				if err == nil && r.TDX == nil {
					err = fmt.Errorf("the measurement of %s has no TDX result", q)
				}
				if err != nil {
					lastErr = err
					continue
				}
				c := CompareCCEventLog(log, r.TDX, quoted)
				agree := 0
				for _, a := range c.Events {
					if a.Result == EventAgree {
						agree++
					}
				}
				// Fewer differences first, then more agreeing events.
				score := [2]int{agree, -len(c.Differences)}
				if bestScore[0] < 0 || score[1] > bestScore[1] || score[1] == bestScore[1] && score[0] > bestScore[0] {
					bestScore = score
					best := TDXLaunch{PageAddOrder: f.PageAddOrder, Memory: mem, QEMU: q}
					x.Best, x.Comparison = &best, c
				}
			}
		}
	}
	if x.Comparison == nil {
		if lastErr == nil {
			lastErr = errors.New("no launch was tried")
		}
		return lastErr
	}
	return nil
}
