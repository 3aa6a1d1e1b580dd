package main

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
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
	OVMF          string `json:"ovmf"`
	OVMFSHA256    string `json:"ovmf_sha256"`
	SNPOVMFHash   string `json:"snp_ovmf_hash,omitempty"`
	*bootInputs
	Measurement string `json:"measurement"`

	raw        []byte
	ovmfSHA384 string            // for --output statement
	stmt       *statementOptions // --timestamp, for --output statement
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

// printRecords prints one record as a bare value (hex or base64) or a JSON
// object, and several as TSV with a header or a JSON array.
func printRecords(w io.Writer, format string, recs []record) error {
	if format == "statement" || wantsTimestamp(recs) {
		return printStatement(w, format, recs)
	}
	enc := func(r record) string {
		if format == "base64" {
			return base64.StdEncoding.EncodeToString(r.raw)
		}
		return hex.EncodeToString(r.raw)
	}
	if format == "json" {
		var v any = recs
		if len(recs) == 1 {
			v = recs[0]
		}
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
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
