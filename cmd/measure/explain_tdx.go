//go:build !measure_front

package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/measure-cc/measure/measure"
	"github.com/measure-cc/measure/measure/tdx"
	"github.com/measure-cc/measure/verify"
)

// explain --quote: the TDX search (verify.ExplainTDX), and with
// --event-log, which RTMRs the log explains and which event breaks them.

// tdxExplanationJSON is explain --quote --output json.
type tdxExplanationJSON struct {
	// Result is "explained" or "unexplained".
	Result   string `json:"result"`
	Platform string `json:"platform"`
	MRTD     string `json:"mrtd"`
	Firmware string `json:"firmware"`
	Searched int    `json:"searched"`
	// HOBMeasured says whether MRTD measures the TD HOB, so the memory
	// size.
	HOBMeasured bool `json:"td_hob_measured"`
	// LogTDHOB is the digest of the event log's TD HOB event,
	// LogTDHOBMatched whether a memory size tried gives it, and
	// LogMemories those sizes.
	LogTDHOB          string           `json:"log_td_hob,omitempty"`
	LogTDHOBMatched   *bool            `json:"log_td_hob_matched,omitempty"`
	LogMemories       []string         `json:"log_memories,omitempty"`
	SignatureVerified bool             `json:"signature_verified"`
	Found             []tdxExplained   `json:"found,omitempty"`
	EventLog          *tdxLogExplained `json:"event_log,omitempty"`
}

// tdxExplained is one launch found.
type tdxExplained struct {
	PageAddOrder string `json:"page_add_order"`
	Memory       string `json:"memory,omitempty"`
	Flags        string `json:"flags"`
	Command      string `json:"command"`
}

// tdxLogExplained is the event log compared with the best launch, or
// why it was compared with none.
type tdxLogExplained struct {
	File string `json:"file"`
	// NotCompared says why no prediction was compared with the log; the
	// other fields are then absent.
	NotCompared  string `json:"not_compared,omitempty"`
	PageAddOrder string `json:"page_add_order,omitempty"`
	Memory       string `json:"memory,omitempty"`
	QEMUVersion  string `json:"qemu_version,omitempty"`
	Command      string `json:"command,omitempty"`
	*verify.EventLogComparison
}

func (o *explainOptions) runTDX(cmd *cobra.Command) error {
	if o.evidence.report != "" || o.measurement != "" {
		return usagef("give one of --quote, --report and --measurement")
	}
	if o.fw.path == "" {
		return usagef("--ovmf is required")
	}
	if o.seed != "" {
		return usagef("--snp-ovmf-hash is SEV-SNP's; a TDX MRTD hashes the firmware's own bytes")
	}
	if o.eventLog == "" && (o.boot.kernel != "" || o.boot.initrd != "" || cmd.Flags().Changed("append")) {
		return usagef("--kernel, --initrd and --append change only the RTMRs: give them with --event-log")
	}
	fw, err := o.fw.load()
	if err != nil {
		return err
	}
	quoted, err := loadQuoteRegisters(cmd, o.evidence.quote)
	if err != nil {
		return err
	}
	warnUnverifiedQuote(cmd)
	var log *verify.CCEventLog
	if o.eventLog != "" {
		if log, err = loadCCEventLog(cmd, o.eventLog); err != nil {
			return err
		}
	}
	boot, err := o.boot.load(cmd)
	if err != nil {
		return err
	}
	start := time.Now()
	x, err := verify.ExplainTDX(fw.img, boot, quoted, log, verify.TDXSpace{})
	if x == nil || err != nil && !errors.Is(err, verify.ErrNoConfiguration) && !errors.Is(err, verify.ErrNotPredicted) {
		return fmt.Errorf("firmware %q: %w", fw.path, err)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "searched %d MRTDs of %s in %.3f s\n", x.Searched, fw.path, time.Since(start).Seconds())
	// As for SEV-SNP: JSON prints the answer either way, text only an
	// explanation; a failure is one line on standard error.
	out := o.tdxExplanation(fw.path, x, err)
	if o.out.format == "json" {
		if perr := writeJSON(cmd.OutOrStdout(), out); perr != nil {
			return perr
		}
	}
	switch {
	case errors.Is(err, verify.ErrNotPredicted):
		// The kernel, initrd or command line given cannot be measured:
		// an input error, not a negative answer.
		return fmt.Errorf("event log %q was compared with nothing: %w", o.eventLog, err)
	case err != nil:
		return fmt.Errorf("%s: %w", o.evidence.quote, err)
	case !x.Explained() && x.Comparison == nil:
		return fmt.Errorf("%s: MRTD is explained (%s), but the event log %q was compared with no prediction: %w", o.evidence.quote, out.Found[0].Flags, o.eventLog, verify.ErrNoConfiguration)
	case !x.Explained():
		d := x.Comparison.Differences
		more := ""
		if len(d) > 1 {
			more = fmt.Sprintf(" (and %d more differences; --output json lists every event)", len(d)-1)
		}
		return fmt.Errorf("%s: MRTD is explained (%s), but the event log %q does not explain the quote's RTMRs with the prediction of any launch tried: %s%s: %w",
			o.evidence.quote, out.Found[0].Flags, o.eventLog, d[0], more, verify.ErrNoConfiguration)
	}
	if o.out.format == "json" {
		return nil
	}
	return printTDXExplanation(cmd.OutOrStdout(), out)
}

// tdxCommand is the measure tdx command line of a launch, with the boot
// files and event log as explain was given them.
func (o *explainOptions) tdxCommand(firmware string, flags []string) string {
	words := append([]string{"measure", "tdx", "--ovmf", firmware}, flags...)
	if o.boot.kernel != "" {
		words = append(words, "--kernel", o.boot.kernel)
		if o.boot.initrd != "" {
			words = append(words, "--initrd", o.boot.initrd)
		}
		words = append(words, "--append", o.boot.append)
	}
	if o.eventLog != "" {
		words = append(words, "--event-log", o.eventLog, "--quote", o.evidence.quote)
	}
	for i, w := range words {
		words[i] = shellQuote(w)
	}
	return strings.Join(words, " ")
}

// tdxExplanation is x as explain prints it; err is ExplainTDX's.
func (o *explainOptions) tdxExplanation(firmware string, x *verify.TDXExplanation, err error) tdxExplanationJSON {
	v := tdxExplanationJSON{Result: resultUnexplained, Platform: string(measure.PlatformTDX), MRTD: x.MRTD.String(), Firmware: firmware,
		Searched: x.Searched, HOBMeasured: x.HOBMeasured}
	if x.LogTDHOB != nil {
		matched := len(x.LogMemories) > 0
		v.LogTDHOB, v.LogTDHOBMatched = x.LogTDHOB.String(), &matched
	}
	for _, m := range x.LogMemories {
		v.LogMemories = append(v.LogMemories, tdx.FormatMemorySize(m))
	}
	for _, f := range x.Found {
		e := tdxExplained{PageAddOrder: f.PageAddOrder.String()}
		flags := []string{"--page-add-order", e.PageAddOrder}
		if f.Memory != 0 {
			e.Memory = tdx.FormatMemorySize(f.Memory)
			flags = append(flags, "--memory", e.Memory)
		}
		e.Flags = strings.Join(flags, " ")
		e.Command = o.tdxCommand(firmware, flags)
		v.Found = append(v.Found, e)
	}
	switch b := x.Best; {
	case b != nil && x.Comparison != nil:
		flags := []string{"--page-add-order", b.PageAddOrder.String(), "--memory", tdx.FormatMemorySize(b.Memory), "--qemu-version", b.QEMU.String()}
		v.EventLog = &tdxLogExplained{File: o.eventLog, PageAddOrder: b.PageAddOrder.String(), Memory: tdx.FormatMemorySize(b.Memory),
			QEMUVersion: b.QEMU.String(), Command: o.tdxCommand(firmware, flags), EventLogComparison: x.Comparison}
	case x.EventLog:
		why := "no prediction was made"
		if errors.Is(err, verify.ErrNotPredicted) {
			why = err.Error()
		}
		v.EventLog = &tdxLogExplained{File: o.eventLog, NotCompared: why}
	}
	if x.Explained() {
		v.Result = resultExplained
	}
	return v
}

// printTDXExplanation prints an explanation found: the launches that give
// MRTD and, with an event log, each RTMR's comparison.
func printTDXExplanation(w io.Writer, v tdxExplanationJSON) error {
	var b strings.Builder
	for i, f := range v.Found {
		if i > 0 {
			b.WriteString("or:\n")
		}
		fmt.Fprintf(&b, "MRTD explained: %s\n  reproduce: %s\n", f.Flags, f.Command)
	}
	fmt.Fprintf(&b, "MRTD: %s (TD HOB measured: %t)\n", v.MRTD, v.HOBMeasured)
	if l := v.EventLog; l != nil {
		switch {
		case len(v.LogMemories) > 0:
			fmt.Fprintf(&b, "the log's TD HOB is that of --memory %s\n", strings.Join(v.LogMemories, " or "))
		case v.LogTDHOB != "":
			b.WriteString("the log's TD HOB matches no memory size tried: the search did not narrow to the log's memory\n")
		default:
			b.WriteString("the log has no TD HOB event\n")
		}
		if l.EventLogComparison == nil {
			fmt.Fprintf(&b, "event log %s NOT compared: %s\n", l.File, l.NotCompared)
		} else {
			printTDXLogComparison(&b, l)
		}
	}
	fmt.Fprintf(&b, "result: %s\n", v.Result)
	_, err := io.WriteString(w, b.String())
	return err
}

// printTDXLogComparison prints each RTMR of the event log's comparison with
// the best launch, and what differs.
func printTDXLogComparison(b *strings.Builder, l *tdxLogExplained) {
	fmt.Fprintf(b, "event log %s against the prediction of QEMU %s, %s, %s:\n", l.File, l.QEMUVersion, l.PageAddOrder, l.Memory)
	for _, r := range l.RTMRs {
		line := fmt.Sprintf("  RTMR%d: %s", r.RTMR, r.Result)
		switch {
		case r.Quote != nil && *r.Quote == r.Replayed:
			line += "; the log replays to the quote's value"
		case r.Quote != nil:
			line += "; the log does NOT replay to the quote's value"
		}
		if r.Predicted == nil {
			line += "; not predicted: " + r.NotComputable
		}
		b.WriteString(line + "\n")
	}
	for _, d := range l.Differences {
		fmt.Fprintf(b, "  differs: %s\n", d)
	}
	fmt.Fprintf(b, "  reproduce: %s\n", l.Command)
}
