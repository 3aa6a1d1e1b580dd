package main

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/measure-cc/measure/measure"
	"github.com/measure-cc/measure/measure/tdx"
	"github.com/measure-cc/measure/ovmf"
)

type tdxOptions struct {
	fw           firmwareOptions
	boot         kernelOptions
	out          outputOptions
	stmt         statementOptions
	vars         string
	pageAddOrder string
	qemuVersion  string
	memory       string
	acpiDir      string
	edk2Version  string
	secureBoot   string
	machine      string
	smp          string
	processorID  string
	eventLog     string // --event-log: tdx_eventlog.go
	quote        string
}

func newTDXCmd() *cobra.Command {
	o := &tdxOptions{out: outputOptions{allowed: []string{"hex", "json", "statement"}}}
	cmd := &cobra.Command{
		Use:   "tdx",
		Short: "Compute Intel TDX MRTD and predict RTMR0-3 for a TDVF/OVMF image under QEMU",
		Long: `tdx computes the MRTD of a TD started from an OVMF (TDVF) image, and with
--output json the RTMRs and the predicted event log of a QEMU direct boot.

Every input that changes a value is a flag: --page-add-order (or the default
of --qemu-version), --memory, --qemu-version (kernel setup header patching),
--acpi-tables. The edk2 release, secure boot support, the UEFI Shell and CC
measurement support are read from the image's (LZMA-compressed) DXE volume;
--edk2-version and --secure-boot-support override them, and the JSON inputs
say where each came from. An RTMR that cannot be computed is shown as null
with the reason, never guessed.

--output statement writes the values as an in-toto statement with the
reference-values predicate, ready for measure sign: MRTD, and each of RTMR0-2
the inputs determine (none that is null above; never RTMR3, which only the
running guest extends). The firmware file (and --vars)
are its subjects, the kernel and initrd too with --kernel. Each configuration
records the page-add order, QEMU version and memory size; not yet the ACPI
tables, edk2 release or Secure Boot support, which only RTMR0 depends on.
See docs/tdx.md.`,
		Example: `  measure tdx --ovmf OVMF.fd
  measure tdx --ovmf OVMF_CODE.fd --vars OVMF_VARS.fd
  measure tdx --ovmf OVMF.fd --page-add-order two-pass
  measure tdx --ovmf OVMF.fd --kernel bzImage --initrd initrd.img --append "console=ttyS0" \
      --memory 2G --qemu-version 10.2 --acpi-tables dump/ --output json
  measure tdx --ovmf OVMF.fd --acpi-tables dump/ --edk2-version 202411 --secure-boot-support no -o json
  measure tdx --ovmf OVMF.fd --output statement | measure sign --key ci.key -
  measure tdx --ovmf OVMF.fd --kernel bzImage --append "console=ttyS0" --event-log CCEL --quote quote.dat`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd)
		},
	}
	fs := cmd.Flags()
	o.fw.AddFlags(fs)
	o.boot.AddFlags(fs)
	o.out.AddFlags(fs)
	o.stmt.AddFlags(fs)
	fs.StringVar(&o.vars, "vars", "", "VARS file of a split image: measured as QEMU maps VARS followed by the --ovmf CODE file")
	fs.StringVar(&o.pageAddOrder, "page-add-order", "", "single-pass (upstream KVM, QEMU >= 9) or two-pass (QEMU 8.x stacks); default from --qemu-version")
	fs.StringVar(&o.qemuVersion, "qemu-version", tdx.DefaultQEMUVersion.String(), "QEMU release major.minor: <= 10.1 patches the kernel setup header, >= 10.2 does not; < 9 defaults to two-pass")
	fs.StringVar(&o.memory, "memory", "128M", "guest RAM as for QEMU -m: 2G, 2048M, 1T, or a number of MiB")
	fs.StringVar(&o.acpiDir, "acpi-tables", "", "directory with QEMU's etc/table-loader, etc/acpi/rsdp and etc/acpi/tables, dumped from the VMM (needed for RTMR0)")
	fs.StringVar(&o.edk2Version, "edk2-version", "", "edk2 release the firmware was built from, e.g. 202502 or 2025.02; overrides the release read from the image (needed for RTMR0 when the image does not say)")
	fs.StringVar(&o.secureBoot, "secure-boot-support", "", "yes or no: whether the firmware was built with secure boot support (SECURE_BOOT_ENABLE); overrides the image")
	fs.StringVar(&o.machine, "machine", "", "q35 machine type, pc-q35-X.Y (default: --qemu-version's, which -machine q35 names); edk2-stable202505+ SMBIOS event")
	fs.StringVar(&o.smp, "smp", "1", "vCPUs as for QEMU -smp: N or N,sockets=S,cores=C,threads=T; edk2-stable202505+ SMBIOS event")
	fs.StringVar(&o.processorID, "smbios-processor-id", "", "SMBIOS type 4 Processor ID of the vCPU model, as dmidecode -t 4 prints it in a guest on that host (\"F8 06 08 00 FF FB EB BF\"); edk2-stable202505+ SMBIOS event")
	fs.StringVar(&o.eventLog, "event-log", "", "the TD's CC event log (/sys/firmware/acpi/tables/data/CCEL): replay it and compare it event by event with the prediction (docs/tdx.md)")
	fs.StringVar(&o.quote, "quote", "", "with --event-log: a TDX quote whose MRTD and RTMRs are compared with the replayed log and the prediction")
	return cmd
}

func (o *tdxOptions) run(cmd *cobra.Command) error {
	if err := o.out.validate(); err != nil {
		return err
	}
	statement := o.out.format == "statement"
	if o.stmt.timestamp && !statement {
		return usagef("--timestamp needs --output statement")
	}
	if o.quote != "" && o.eventLog == "" {
		return usagef("--quote needs --event-log (measure compare checks a quote against reference values)")
	}
	if o.eventLog != "" && statement {
		return usagef("--event-log compares; it writes no statement")
	}
	var l measure.TDX
	var err error
	if l.QEMU, err = measure.ParseQEMUVersion(o.qemuVersion); err != nil {
		return usagef("--qemu-version: %v", err)
	}
	l.PageAddOrder = l.QEMU.DefaultPageAddOrder()
	if o.pageAddOrder != "" {
		if l.PageAddOrder, err = measure.ParsePageAddOrder(o.pageAddOrder); err != nil {
			return usagef("--page-add-order: %v", err)
		}
	}
	if l.Memory, err = measure.ParseMemorySize(o.memory); err != nil {
		return usagef("--memory: %v", err)
	}
	if o.edk2Version != "" {
		if l.EDK2, err = tdx.ParseEDK2Release(o.edk2Version); err != nil {
			return usagef("--edk2-version: %v", err)
		}
	}
	switch strings.ToLower(o.secureBoot) {
	case "":
	case "yes", "true":
		v := true
		l.SecureBootSupport = &v
	case "no", "false":
		v := false
		l.SecureBootSupport = &v
	default:
		return usagef("--secure-boot-support %q: want yes or no", o.secureBoot)
	}
	if err := o.smbiosInputs(&l); err != nil {
		return err
	}
	if err := o.boot.check(cmd); err != nil {
		return err
	}
	if o.fw.path == "" {
		return usagef("--ovmf is required")
	}
	fw, err := o.loadFirmware(cmd)
	if err != nil {
		return err
	}
	boot, err := o.boot.load(cmd)
	if err != nil {
		return err
	}
	if o.acpiDir != "" {
		if l.ACPI, err = loadACPIDir(o.acpiDir); err != nil {
			return err
		}
	}
	// The RTMRs need the DXE volume decompressed (a tenth of a second for a
	// 4 MiB image): only for JSON and statements, or to check the inputs
	// given for them.
	l.RTMRs = o.out.format == "json" || statement || boot != nil || l.ACPI != nil || o.eventLog != ""
	img := fw.img
	res, err := measure.Compute(img, boot, []measure.Launch{l}, measure.Options{})
	if err != nil {
		if errors.Is(err, ovmf.ErrTDVFSectionOutsideImage) && o.vars == "" {
			return fmt.Errorf("firmware %q: %w; if this is the CODE part of a split image, pass its VARS file with --vars", o.fw.path, err)
		}
		return fmt.Errorf("firmware %q: %w", o.fw.path, err)
	}
	r := res[0]
	mrtd, _ := r.Value(measure.MRTD)
	w := cmd.OutOrStdout()
	if o.eventLog != "" {
		return o.compareEventLog(cmd, r)
	}
	if statement {
		return o.printStatement(w, fw, boot, res)
	}
	if o.out.format != "json" {
		_, err = fmt.Fprintln(w, mrtd)
		return err
	}
	sum := sha256.Sum256(img.Data())
	in := tdxInputs{
		OVMF: o.fw.path, OVMFSHA256: hex.EncodeToString(sum[:]), Vars: o.vars,
		PageAddOrder: l.PageAddOrder.String(), QEMUVersion: l.QEMU.String(),
		Memory: measure.FormatMemorySize(l.Memory), ACPITables: o.acpiDir,
	}
	if boot != nil {
		in.Kernel, in.Append = o.boot.kernel, &o.boot.append
		in.Initrd = o.boot.initrd
	}
	p := r.TDX
	in.KernelVersion, in.KernelPatched = p.KernelVersion, p.KernelPatched
	in.EDK2Version, in.EDK2VersionSource = p.Derived.EDK2.Value, p.Derived.EDK2.Source
	in.SecureBootSupport, in.UEFIShell, in.CCMeasurement = p.Derived.SecureBootSupport, p.Derived.Shell, p.Derived.CCMeasurement
	in.Machine, in.SMP, in.SMBIOSType0 = o.machine, l.SMP.String(), p.Derived.SMBIOSType0
	if l.SMBIOSProcessorID != nil {
		in.SMBIOSProcessorID = fmt.Sprintf("%016x", *l.SMBIOSProcessorID)
	}
	out := tdxOutput{MRTD: p.MRTD, RTMRs: p.RTMRs, Events: p.Events, Notes: p.Notes, Inputs: in}
	if out.Events == nil {
		out.Events = []tdx.Event{}
	}
	for i, r := range p.Reasons {
		if r != "" {
			out.NotComputable = append(out.NotComputable, tdxReason{RTMR: i, Reason: r})
		}
	}
	return writeJSON(w, out)
}

// tdxOutput is the JSON form of measure tdx.
type tdxOutput struct {
	MRTD          tdx.Digest     `json:"mrtd"`
	RTMRs         [4]*tdx.Digest `json:"rtmrs"`
	NotComputable []tdxReason    `json:"not_computable,omitempty"`
	Events        []tdx.Event    `json:"events"`
	Notes         []string       `json:"notes,omitempty"`
	Inputs        tdxInputs      `json:"inputs"`
}

type tdxReason struct {
	RTMR   int    `json:"rtmr"`
	Reason string `json:"reason"`
}

// tdxInputs records every input that decided the values.
type tdxInputs struct {
	OVMF         string `json:"ovmf"`
	OVMFSHA256   string `json:"ovmf_sha256"`
	Vars         string `json:"vars,omitempty"`
	PageAddOrder string `json:"page_add_order"`
	QEMUVersion  string `json:"qemu_version"`
	Memory       string `json:"memory"`
	EDK2Version  string `json:"edk2_version"`
	// EDK2VersionSource is "flag", "image: ..." or "unknown: ...".
	EDK2VersionSource string      `json:"edk2_version_source"`
	SecureBootSupport tdx.Sourced `json:"secure_boot_support"`
	UEFIShell         tdx.Sourced `json:"uefi_shell"`
	CCMeasurement     tdx.Sourced `json:"cc_measurement"`
	Machine           string      `json:"machine,omitempty"`
	SMP               string      `json:"smp"`
	SMBIOSProcessorID string      `json:"smbios_processor_id,omitempty"`
	SMBIOSType0       tdx.Sourced `json:"smbios_type0"`
	ACPITables        string      `json:"acpi_tables,omitempty"`
	Kernel            string      `json:"kernel,omitempty"`
	KernelVersion     string      `json:"kernel_version,omitempty"`
	KernelPatched     bool        `json:"kernel_setup_header_patched,omitempty"`
	Initrd            string      `json:"initrd,omitempty"`
	Append            *string     `json:"append,omitempty"`
}

// printStatement writes res as a reference-values statement through the
// one mapping (refvalues): MRTD and the RTMRs res holds, which are those
// computed; the --ovmf file, --vars file, kernel and initrd are subjects.
func (o *tdxOptions) printStatement(w io.Writer, fw *tdxFirmware, boot *measure.Boot, res []measure.Result) error {
	lf := &loadedFirmware{path: o.fw.path, img: fw.img}
	if fw.vars != nil {
		// The predicate's firmware is the --ovmf (CODE) file as it is on
		// disk, not the joined image that was measured.
		d := digestSet(fw.code)
		lf.sum256, lf.sum384 = d["sha256"], d["sha384"]
	}
	// RTMR3 is not the launch's: no firmware or boot input extends it, the
	// guest extends it at run time (container runtimes, attestation
	// agents). A reference value of zeros would fail every such guest, so
	// the statement leaves it out.
	runtime := measure.RTMR(3)
	res = slices.Clone(res)
	for i := range res {
		res[i].Values = slices.DeleteFunc(slices.Clone(res[i].Values), func(v measure.Value) bool { return v.Register == runtime })
	}
	m := &measured{fw: lf, boot: &o.boot, results: res, stmt: &o.stmt}
	if boot != nil {
		m.hashes = boot.KernelHashes()
	}
	var extra []subject
	if fw.vars != nil {
		extra = append(extra, subject{name: filepath.Base(o.vars), digest: digestSet(fw.vars)})
	}
	return printStatement(w, "statement", m, extra...)
}

// digestSet is a file's sha256 and sha384, as a subject names it.
func digestSet(b []byte) map[string]string {
	s256, s384 := sha256.Sum256(b), sha512.Sum384(b)
	return map[string]string{"sha256": hex.EncodeToString(s256[:]), "sha384": hex.EncodeToString(s384[:])}
}

// tdxFirmware is the image measured, and with --vars the two files it was
// joined from.
type tdxFirmware struct {
	img        *ovmf.Image
	code, vars []byte // set only with --vars
}

// loadFirmware reads --ovmf, and --vars before it when given, into one image
// as QEMU maps them below 4 GiB.
func (o *tdxOptions) loadFirmware(cmd *cobra.Command) (*tdxFirmware, error) {
	o.fw.stdin = cmd.InOrStdin()
	data, err := o.fw.read(o.fw.path)
	if err != nil {
		return nil, err
	}
	fw := &tdxFirmware{}
	if o.vars != "" {
		vars, err := o.fw.read(o.vars)
		if err != nil {
			return nil, err
		}
		fw.code, fw.vars = data, vars
		if data, err = ovmf.JoinSplit(vars, data); err != nil {
			return nil, fmt.Errorf("--vars %q and --ovmf %q: %w", o.vars, o.fw.path, err)
		}
	}
	if fw.img, err = ovmf.Parse(data); err != nil {
		return nil, fmt.Errorf("firmware %q: %w", o.fw.path, err)
	}
	if !fw.img.HasTDXMetadata() {
		return nil, fmt.Errorf("firmware %q: %w", o.fw.path, ovmf.ErrNoTDVFMetadata)
	}
	return fw, nil
}

// loadACPIDir reads QEMU's ACPI fw_cfg files from a dump directory.
func loadACPIDir(dir string) (*tdx.ACPITables, error) {
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("--acpi-tables %q: %w", dir, err)
	} else if !st.IsDir() {
		return nil, usagef("--acpi-tables %q is not a directory", dir)
	}
	t, err := tdx.LoadACPITables(os.DirFS(dir))
	if err != nil {
		return nil, fmt.Errorf("--acpi-tables %q: %w", dir, err)
	}
	return t, nil
}

// smbiosInputs parses --machine, --smp and --smbios-processor-id into l.
func (o *tdxOptions) smbiosInputs(l *measure.TDX) error {
	var err error
	if l.SMP, err = tdx.ParseSMP(o.smp); err != nil {
		return usagef("--smp: %v", err)
	}
	if m := o.machine; m != "" && m != "q35" {
		v, ok := strings.CutPrefix(m, "pc-q35-")
		if !ok {
			return usagef("--machine %q: want pc-q35-X.Y or q35 (only q35 is modelled)", m)
		}
		if l.Machine, err = measure.ParseQEMUVersion(v); err != nil {
			return usagef("--machine: %v", err)
		}
		if !l.QEMU.AtLeast(l.Machine.Major, l.Machine.Minor) {
			return usagef("--machine %s is newer than --qemu-version %s", m, l.QEMU)
		}
	}
	if o.processorID != "" {
		id, err := tdx.ParseProcessorID(o.processorID)
		if err != nil {
			return usagef("--smbios-processor-id: %v", err)
		}
		l.SMBIOSProcessorID = &id
	}
	return nil
}
