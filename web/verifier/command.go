package verifier

import (
	"fmt"
	"strings"

	"github.com/measure-cc/measure/verify"
)

// command is the measure command line that checks the same inputs.
type command struct {
	args []string
	// certs is whether the hardware signature is checked: measure compare
	// checks it when given --certs, which the page gives when it has a
	// certificate file or the evidence carries its certificates (an
	// extended SEV-SNP report, a TDX quote with its PCK chain).
	certs bool
}

func newCommand(in Inputs, ld *loaded) *command {
	c := &command{}
	used := false
	for _, f := range in.Certs {
		used = used || roleOf(f) != ""
	}
	switch e := ld.ev.(type) {
	case *verify.SNPReport:
		c.certs = used || e.Extended()
	case *verify.TDXQuote:
		c.certs = used || e.HasPCKChain()
	}
	if in.Refs == nil {
		// Without reference values there is no compare to run; report
		// show prints the same fields.
		c.args = []string{"measure", "report", "show", in.Evidence.Name}
		return c
	}
	c.args = []string{"measure", "compare", ld.flag, in.Evidence.Name, "--refs", in.Refs.Name}
	for _, k := range in.Keys {
		c.args = append(c.args, "--key", k.Name)
	}
	if in.Threshold > 1 {
		c.args = append(c.args, "--threshold", fmt.Sprint(in.Threshold))
	}
	if c.certs {
		c.args = append(c.args, "--certs", CertsDirName)
	}
	for _, r := range in.TrustRoots {
		c.args = append(c.args, "--trust-root", r.Name)
	}
	if in.VerifyTime != "" {
		c.args = append(c.args, "--verify-time", in.VerifyTime)
	}
	if in.NoHardwareCheck {
		c.args = append(c.args, "--no-hardware-check")
	}
	p := in.Policy
	if p.AllowDebug {
		c.args = append(c.args, "--allow-debug")
	}
	for _, f := range []struct{ flag, v string }{{"--min-tcb", p.MinTCB}, {"--vmpl", p.VMPL}, {"--report-data", p.ReportData}} {
		if v := strings.TrimSpace(f.v); v != "" {
			c.args = append(c.args, f.flag, v)
		}
	}
	return c
}

// String quotes the words for a POSIX shell.
func (c *command) String() string { return verify.ShellCommand(c.args...) }
