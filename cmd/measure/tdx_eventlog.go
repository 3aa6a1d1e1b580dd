//go:build !measure_front

package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/measure-cc/measure/measure"
	"github.com/measure-cc/measure/measure/tdx"
	"github.com/measure-cc/measure/verify"
)

// measure tdx --event-log: the TD's CC event log (CCEL) replayed and
// compared, event by event, with the prediction, and with --quote the
// quote's MRTD and RTMRs with both (docs/tdx.md).

// eventLogDiffers is the negative answer of tdx --event-log: exit status 1
// (verify.ErrMismatch), after the comparison was printed.
type eventLogDiffers struct{ msg string }

func (e eventLogDiffers) Error() string { return e.msg }
func (e eventLogDiffers) Unwrap() error { return verify.ErrMismatch }

// loadCCEventLog reads and parses a CC event log file.
func loadCCEventLog(cmd *cobra.Command, path string) (*verify.CCEventLog, error) {
	b, err := readInput(cmd, path, verify.MaxCCEventLogSize)
	if err != nil {
		return nil, err
	}
	l, err := verify.ParseCCEventLog(b)
	if err != nil {
		return nil, fmt.Errorf("--event-log %q: %w", path, err)
	}
	return l, nil
}

// loadQuoteRegisters reads a TDX quote's MRTD and RTMRs.
func loadQuoteRegisters(cmd *cobra.Command, path string) ([]verify.Register, error) {
	ev, _, err := loadEvidence(cmd, path, verify.KindTDXQuote)
	if err != nil {
		return nil, err
	}
	return ev.Registers(), nil
}

// warnUnverifiedQuote says that a quote's registers were compared but
// its signature was not checked.
func warnUnverifiedQuote(cmd *cobra.Command) {
	fmt.Fprintln(cmd.ErrOrStderr(), "warning: the quote's hardware signature was not verified (measure compare --certs verifies it)")
}

// compareEventLog compares --event-log (and --quote) with the prediction
// r and prints the comparison; it returns eventLogDiffers when something
// differs.
func (o *tdxOptions) compareEventLog(cmd *cobra.Command, r measure.Result) error {
	log, err := loadCCEventLog(cmd, o.eventLog)
	if err != nil {
		return err
	}
	var quoted []verify.Register
	if o.quote != "" {
		if quoted, err = loadQuoteRegisters(cmd, o.quote); err != nil {
			return err
		}
		warnUnverifiedQuote(cmd)
	}
	c := verify.CompareCCEventLog(log, r.TDX, quoted)
	out := eventLogOutput{Result: c.Result, EventLog: o.eventLog, Quote: o.quote, EventLogComparison: c}
	w := cmd.OutOrStdout()
	if o.out.format == "json" {
		err = writeJSON(w, out)
	} else {
		err = printEventLogComparison(w, c, r.TDX.MRTD)
	}
	if err != nil {
		return err
	}
	switch c.Result {
	case verify.LogDiffers:
		what := "the prediction"
		if o.quote != "" {
			what += " or the quote"
		}
		return eventLogDiffers{fmt.Sprintf("event log %q differs from %s: %s", o.eventLog, what, c.Differences[0])}
	case verify.LogNotPredicted:
		return eventLogDiffers{fmt.Sprintf("event log %q verifies nothing: %s", o.eventLog, unverified(c))}
	}
	return nil
}

// eventLogOutput is tdx --event-log --output json.
type eventLogOutput struct {
	// Result is the comparison's: "agree", "differs" or "not-predicted"
	// (verify.LogAgree, LogDiffers, LogNotPredicted).
	Result   string `json:"result"`
	EventLog string `json:"event_log"`
	Quote    string `json:"quote,omitempty"`
	*verify.EventLogComparison
}

// short is a digest's first 16 hex digits, as the table shows it.
func short(d tdx.Digest) string { return d.String()[:16] }

// printEventLogComparison prints the aligned events as a table, the
// registers, and what differs.
func printEventLogComparison(w io.Writer, c *verify.EventLogComparison, mrtd tdx.Digest) error {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RTMR\t#\tRESULT\tRECORD\tTYPE\tDIGEST\tDESCRIPTION")
	for _, a := range c.Events {
		record, typ, digest, desc := "-", "-", "", ""
		if a.Log != nil {
			record, typ, digest, desc = fmt.Sprint(a.Log.Index), a.Log.Type, short(a.Log.Digest), a.Log.Description
			if a.Log.DataMismatch {
				desc += " [digest is not SHA-384 of the data]"
			}
		}
		if p := a.Predicted; p != nil {
			switch {
			case a.Log == nil:
				digest, desc = short(p.Digest), "predicted "+string(p.Kind)+": "+p.Description
			case a.Result == verify.EventDiffers:
				digest += " (predicted " + short(p.Digest) + ")"
				desc += " | predicted " + string(p.Kind) + ": " + p.Description
			}
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\n", a.RTMR, a.Position, a.Result, record, typ, digest, desc)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	b.WriteString("\n")
	for _, r := range c.RTMRs {
		fmt.Fprintf(&b, "RTMR%d %s\n  replayed  %s\n", r.RTMR, r.Result, r.Replayed)
		if r.Predicted != nil {
			fmt.Fprintf(&b, "  predicted %s\n", r.Predicted)
		} else {
			fmt.Fprintf(&b, "  predicted null: %s\n", r.NotComputable)
		}
		if r.Quote != nil {
			fmt.Fprintf(&b, "  quote     %s\n", r.Quote)
		}
	}
	if m := c.MRTD; m != nil {
		res := "agree"
		if !m.Agree {
			res = "differs"
		}
		fmt.Fprintf(&b, "MRTD %s\n  predicted %s\n  quote     %s\n", res, m.Predicted, m.Quote)
	} else {
		fmt.Fprintf(&b, "MRTD (predicted) %s\n", mrtd)
	}
	for _, e := range c.NotExtended {
		fmt.Fprintf(&b, "not extended: record %d %s %s\n", e.Index, e.Type, e.Description)
	}
	switch c.Result {
	case verify.LogAgree:
		fmt.Fprintf(&b, "agree: every event compared agrees; %s agree", rtmrList(c.PredictedRTMRs))
		if len(c.NotPredictedRTMRs) > 0 {
			fmt.Fprintf(&b, "; %s", notPredicted(c))
		}
		b.WriteString("\n")
	case verify.LogNotPredicted:
		fmt.Fprintf(&b, "NOT VERIFIED: %s\n", unverified(c))
	default:
		fmt.Fprintf(&b, "differs (%d):\n", len(c.Differences))
		for _, d := range c.Differences {
			fmt.Fprintf(&b, "  %s\n", d)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// unverified says why a comparison in which nothing differs verifies
// nothing (verify.LogNotPredicted).
func unverified(c *verify.EventLogComparison) string {
	what := "no RTMR was predicted"
	if len(c.PredictedRTMRs) > 0 {
		what = "only " + rtmrList(c.PredictedRTMRs) + " was predicted (and agrees), which says nothing about what booted"
	}
	return what + "; " + notPredicted(c)
}

// rtmrList names RTMRs: "RTMR1, RTMR2".
func rtmrList(rtmrs []int) string {
	var s []string
	for _, r := range rtmrs {
		s = append(s, fmt.Sprintf("RTMR%d", r))
	}
	return strings.Join(s, ", ")
}

// notPredicted says which RTMRs the prediction does not compute, each with
// the gist of its reasons (the part before a colon): "not predicted: RTMR1
// (no --kernel), ...".
func notPredicted(c *verify.EventLogComparison) string {
	var s []string
	for _, r := range c.NotPredictedRTMRs {
		var gist []string
		for _, why := range strings.Split(c.RTMRs[r].NotComputable, "; ") {
			if g, _, _ := strings.Cut(why, ": "); g != "" && !slices.Contains(gist, g) {
				gist = append(gist, g)
			}
		}
		s = append(s, fmt.Sprintf("RTMR%d (%s)", r, strings.Join(gist, "; ")))
	}
	return "not predicted: " + strings.Join(s, ", ")
}
