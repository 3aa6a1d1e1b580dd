package main

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/measure-cc/measure/measure"
)

// record is one computed measurement with every input that decides it, the
// JSON form of measuring commands.
type record struct {
	Platform      string `json:"platform"` // sev, sev-es, sev-snp
	VMMType       string `json:"vmm_type,omitempty"`
	VCPUs         int    `json:"vcpus,omitempty"`
	VCPUType      string `json:"vcpu_type,omitempty"`
	VCPUSig       string `json:"vcpu_sig,omitempty"`
	GuestFeatures string `json:"guest_features,omitempty"`
	Profile       string `json:"profile,omitempty"`
	OVMF          string `json:"ovmf"`
	OVMFSHA256    string `json:"ovmf_sha256"`
	SNPOVMFHash   string `json:"snp_ovmf_hash,omitempty"`
	*bootInputs
	Measurement string `json:"measurement"`

	value  measure.Value  // the measurement, typed
	result measure.Result // what the facade returned, for --output statement
}

// bootInputs records measured direct boot.
type bootInputs struct {
	Kernel        string `json:"kernel"`
	KernelSHA256  string `json:"kernel_sha256"`
	Initrd        string `json:"initrd,omitempty"`
	InitrdSHA256  string `json:"initrd_sha256"`
	Append        string `json:"append"`
	CmdlineSHA256 string `json:"cmdline_sha256"`
}

// measured is what a measuring command computed, ready to print: the
// facade's results over one firmware and boot.
type measured struct {
	fw      *loadedFirmware
	boot    *kernelOptions
	hashes  *measure.KernelHashes // nil without --kernel
	seed    *measure.Value        // --snp-ovmf-hash
	results []measure.Result
	stmt    *statementOptions
}

// records returns one record per result; the firmware's digest is computed
// only for the formats that print it.
func (m *measured) records(format string) []record {
	base := record{OVMF: m.fw.path}
	if format == "json" {
		base.OVMFSHA256 = m.fw.sha256()
	}
	if m.seed != nil {
		base.SNPOVMFHash = m.seed.String()
	}
	if kh := m.hashes; kh != nil {
		base.bootInputs = &bootInputs{
			Kernel: m.boot.kernel, KernelSHA256: hex.EncodeToString(kh.Kernel[:]),
			Initrd: m.boot.initrd, InitrdSHA256: hex.EncodeToString(kh.Initrd[:]),
			Append: m.boot.append, CmdlineSHA256: hex.EncodeToString(kh.Cmdline[:]),
		}
	}
	recs := make([]record, len(m.results))
	for i, res := range m.results {
		r := base
		r.Platform = string(res.Launch.Platform())
		r.setLaunch(res.Launch)
		r.Profile = effectiveProfile(res.Launch)
		r.value, r.result = res.Values[0], res
		r.Measurement = r.value.String()
		recs[i] = r
	}
	return recs
}

// print prints the results in format: hex, base64, json or statement.
func (m *measured) print(w io.Writer, format string) error {
	if format == "statement" || m.stmt != nil && m.stmt.timestamp {
		return printStatement(w, format, m)
	}
	return printRecords(w, format, m.records(format))
}

// printRecords prints one record as a bare value (hex or base64) or a JSON
// object, and several as TSV with a header or a JSON array.
func printRecords(w io.Writer, format string, recs []record) error {
	enc := func(r record) string {
		if format == "base64" {
			return base64.StdEncoding.EncodeToString(r.value.Bytes())
		}
		return r.value.String()
	}
	if format == "json" {
		// Always an array, one object per configuration, whatever their
		// number (docs/output.md, rule 4).
		return writeJSON(w, recs)
	}
	if len(recs) == 1 {
		_, err := fmt.Fprintln(w, enc(recs[0]))
		return err
	}
	var b strings.Builder
	b.WriteString("vmm_type\tvcpu_type\tvcpu_sig\tvcpus\tguest_features\tmeasurement\n")
	for _, r := range recs {
		fmt.Fprintf(&b, "%s\t%s\t%s\t%d\t%s\t%s\n", r.VMMType, dash(r.VCPUType), dash(r.VCPUSig), r.VCPUs, dash(r.GuestFeatures), enc(r))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// setLaunch records a launch's VMM type, vCPU count, type and signature,
// and guest features in r, spelled as the reference-values predicate
// spells them (refvalues.Configuration, which the front build cannot link;
// TestRecordFieldsAsPredicate holds the two together).
func (r *record) setLaunch(l measure.Launch) {
	var vmm measure.VMM
	var cpu measure.CPU
	switch l := l.(type) {
	case measure.SEVES:
		vmm, r.VCPUs, cpu = l.VMM, l.VCPUs, l.CPU
	case measure.SNP:
		vmm, r.VCPUs, cpu = l.VMM, l.VCPUs, l.CPU
		r.GuestFeatures = fmt.Sprintf("%#x", l.GuestFeatures)
	default:
		return
	}
	r.VMMType = vmm.String()
	if vmm == measure.VMMQEMU {
		r.VCPUType = cpu.Name
		r.VCPUSig = fmt.Sprintf("%#x", cpu.Signature)
	}
}

// effectiveProfile is the launch profile a launch follows, its VMM's
// default included: the JSON output names it always (the predicate only
// when it is not the default).
func effectiveProfile(l measure.Launch) string {
	var vmm measure.VMM
	var p measure.Profile
	switch l := l.(type) {
	case measure.SNP:
		vmm, p = l.VMM, l.Profile
	case measure.SEVES:
		vmm, p = l.VMM, l.Profile
	default:
		return ""
	}
	if p == "" {
		p = measure.DefaultProfile(vmm)
	}
	return string(p)
}
