package main

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/measure-cc/measure/measure/tdx"
	"github.com/measure-cc/measure/ovmf"
)

// Bounds on the files measure tdx reads whole.
const (
	maxKernelSize   = 512 << 20
	maxACPIFileSize = 16 << 20
)

type tdxOptions struct {
	fw           firmwareOptions
	boot         kernelOptions
	out          outputOptions
	vars         string
	pageAddOrder string
	qemuVersion  string
	memory       string
	acpiDir      string
	edk2Version  string
	secureBoot   string
}

func newTDXCmd() *cobra.Command {
	o := &tdxOptions{out: outputOptions{allowed: []string{"hex", "json"}}}
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
with the reason, never guessed. See docs/tdx.md.`,
		Example: `  measure tdx --ovmf OVMF.fd
  measure tdx --ovmf OVMF_CODE.fd --vars OVMF_VARS.fd
  measure tdx --ovmf OVMF.fd --page-add-order two-pass
  measure tdx --ovmf OVMF.fd --kernel bzImage --initrd initrd.img --append "console=ttyS0" \
      --memory 2G --qemu-version 10.2 --acpi-tables dump/ --output json
  measure tdx --ovmf OVMF.fd --acpi-tables dump/ --edk2-version 202411 --secure-boot-support no -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd)
		},
	}
	fs := cmd.Flags()
	o.fw.AddFlags(fs)
	o.boot.AddFlags(fs)
	o.out.AddFlags(fs)
	fs.StringVar(&o.vars, "vars", "", "VARS file of a split image: measured as QEMU maps VARS followed by the --ovmf CODE file")
	fs.StringVar(&o.pageAddOrder, "page-add-order", "", "single-pass (upstream KVM, QEMU >= 9) or two-pass (QEMU 8.x stacks); default from --qemu-version")
	fs.StringVar(&o.qemuVersion, "qemu-version", tdx.DefaultQEMUVersion.String(), "QEMU release major.minor: <= 10.1 patches the kernel setup header, >= 10.2 does not; < 9 defaults to two-pass")
	fs.StringVar(&o.memory, "memory", "128M", "guest RAM as for QEMU -m: 2G, 2048M, 1T, or a number of MiB")
	fs.StringVar(&o.acpiDir, "acpi-tables", "", "directory with QEMU's etc/table-loader, etc/acpi/rsdp and etc/acpi/tables, dumped from the VMM (needed for RTMR0)")
	fs.StringVar(&o.edk2Version, "edk2-version", "", "edk2 release the firmware was built from, e.g. 202502 or 2025.02; overrides the release read from the image (needed for RTMR0 when the image does not say)")
	fs.StringVar(&o.secureBoot, "secure-boot-support", "", "yes or no: whether the firmware was built with secure boot support (SECURE_BOOT_ENABLE); overrides the image")
	return cmd
}

func (o *tdxOptions) run(cmd *cobra.Command) error {
	if err := o.out.validate(); err != nil {
		return err
	}
	var cfg tdx.Config
	var err error
	if cfg.QEMU, err = tdx.ParseQEMUVersion(o.qemuVersion); err != nil {
		return usagef("--qemu-version: %v", err)
	}
	cfg.PageAddOrder = cfg.QEMU.DefaultPageAddOrder()
	if o.pageAddOrder != "" {
		if cfg.PageAddOrder, err = tdx.ParsePageAddOrder(o.pageAddOrder); err != nil {
			return usagef("--page-add-order: %v", err)
		}
	}
	if cfg.Memory, err = parseMemorySize(o.memory); err != nil {
		return err
	}
	if o.edk2Version != "" {
		if cfg.EDK2, err = tdx.ParseEDK2Release(o.edk2Version); err != nil {
			return usagef("--edk2-version: %v", err)
		}
	}
	switch strings.ToLower(o.secureBoot) {
	case "":
	case "yes", "true":
		v := true
		cfg.SecureBootSupport = &v
	case "no", "false":
		v := false
		cfg.SecureBootSupport = &v
	default:
		return usagef("--secure-boot-support %q: want yes or no", o.secureBoot)
	}
	if o.boot.kernel == "" {
		for _, name := range []string{"initrd", "append"} {
			if cmd.Flags().Changed(name) {
				return usagef("--%s needs --kernel", name)
			}
		}
	}
	if o.fw.path == "" {
		return usagef("--ovmf is required")
	}
	img, fwSHA, err := o.loadFirmware()
	if err != nil {
		return err
	}
	in := tdxInputs{
		OVMF: o.fw.path, OVMFSHA256: fwSHA, Vars: o.vars,
		PageAddOrder: cfg.PageAddOrder.String(), QEMUVersion: cfg.QEMU.String(),
		Memory: formatMemory(cfg.Memory), EDK2Version: cfg.EDK2.String(), ACPITables: o.acpiDir,
	}
	if o.boot.kernel != "" {
		if cfg.Kernel, err = readFileLimit(o.boot.kernel, maxKernelSize); err != nil {
			return err
		}
		cfg.Cmdline = o.boot.append
		in.Kernel, in.Append = o.boot.kernel, &o.boot.append
		if o.boot.initrd != "" {
			if cfg.Initrd, err = hashInitrd(o.boot.initrd); err != nil {
				return err
			}
			in.Initrd = o.boot.initrd
		}
	}
	if o.acpiDir != "" {
		if cfg.ACPI, err = loadACPITables(o.acpiDir); err != nil {
			return err
		}
	}
	wrap := func(err error) error {
		if errors.Is(err, ovmf.ErrTDVFSectionOutsideImage) && o.vars == "" {
			return fmt.Errorf("firmware %q: %w; if this is the CODE part of a split image, pass its VARS file with --vars", o.fw.path, err)
		}
		return fmt.Errorf("firmware %q: %w", o.fw.path, err)
	}
	w := cmd.OutOrStdout()
	if o.out.format != "json" && o.boot.kernel == "" && o.acpiDir == "" {
		// MRTD alone and no input to check for the RTMRs: no need to
		// decompress the DXE volume (0.3 s for a 4 MiB image).
		mrtd, err := tdx.MeasureMRTD(img, cfg)
		if err != nil {
			return wrap(err)
		}
		_, err = fmt.Fprintln(w, mrtd)
		return err
	}
	res, err := tdx.Measure(img, cfg)
	if err != nil {
		return wrap(err)
	}
	if o.out.format != "json" {
		_, err = fmt.Fprintln(w, res.MRTD)
		return err
	}
	in.KernelVersion, in.KernelPatched = res.KernelVersion, res.KernelPatched
	in.EDK2Version, in.EDK2VersionSource = res.Derived.EDK2.Value, res.Derived.EDK2.Source
	in.SecureBootSupport, in.UEFIShell, in.CCMeasurement = res.Derived.SecureBootSupport, res.Derived.Shell, res.Derived.CCMeasurement
	out := tdxOutput{MRTD: res.MRTD, RTMRs: res.RTMRs, Events: res.Events, Notes: res.Notes, Inputs: in}
	if out.Events == nil {
		out.Events = []tdx.Event{}
	}
	for i, r := range res.Reasons {
		if r != "" {
			out.NotComputable = append(out.NotComputable, tdxReason{RTMR: i, Reason: r})
		}
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
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
	ACPITables        string      `json:"acpi_tables,omitempty"`
	Kernel            string      `json:"kernel,omitempty"`
	KernelVersion     string      `json:"kernel_version,omitempty"`
	KernelPatched     bool        `json:"kernel_setup_header_patched,omitempty"`
	Initrd            string      `json:"initrd,omitempty"`
	Append            *string     `json:"append,omitempty"`
}

// loadFirmware reads --ovmf, and --vars before it when given, into one image
// as QEMU maps them below 4 GiB. It returns the sha256 of the image.
func (o *tdxOptions) loadFirmware() (*ovmf.Image, string, error) {
	code, err := readFileLimit(o.fw.path, ovmf.MaxImageSize)
	if err != nil {
		return nil, "", err
	}
	data := code
	if o.vars != "" {
		vars, err := readFileLimit(o.vars, ovmf.MaxImageSize)
		if err != nil {
			return nil, "", err
		}
		if len(vars)+len(code) > ovmf.MaxImageSize {
			return nil, "", fmt.Errorf("%q and %q together are %d bytes, more than the %d accepted", o.vars, o.fw.path, len(vars)+len(code), ovmf.MaxImageSize)
		}
		data = append(append(make([]byte, 0, len(vars)+len(code)), vars...), code...)
	}
	img, err := ovmf.Parse(data)
	if err != nil {
		return nil, "", fmt.Errorf("firmware %q: %w", o.fw.path, err)
	}
	if !img.HasTDXMetadata() {
		return nil, "", fmt.Errorf("firmware %q: %w", o.fw.path, ovmf.ErrNoTDVFMetadata)
	}
	sum := sha256.Sum256(data)
	return img, hex.EncodeToString(sum[:]), nil
}

// hashInitrd streams the initrd: the measurement needs its size and SHA-384.
func hashInitrd(path string) (*tdx.Blob, error) {
	f, err := openBlob(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha512.New384()
	n, err := io.Copy(h, &capReader{r: f, left: maxBlobSize, name: path})
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", path, err)
	}
	b := &tdx.Blob{Size: uint64(n)}
	h.Sum(b.SHA384[:0])
	return b, nil
}

// loadACPITables reads the loader script and the files it allocates from
// dir, by fw_cfg name (dir/etc/acpi/tables) or by base name (dir/tables).
func loadACPITables(dir string) (*tdx.ACPITables, error) {
	read := func(name string) ([]byte, error) {
		var firstErr error
		for _, p := range []string{filepath.Join(dir, filepath.FromSlash(name)), filepath.Join(dir, filepath.Base(name))} {
			b, err := readFileLimit(p, maxACPIFileSize)
			if err == nil {
				return b, nil
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		return nil, fmt.Errorf("--acpi-tables %q: %s: %w", dir, name, firstErr)
	}
	loader, err := read("etc/table-loader")
	if err != nil {
		return nil, err
	}
	names, err := tdx.LoaderFiles(loader)
	if err != nil {
		return nil, fmt.Errorf("--acpi-tables %q: %w", dir, err)
	}
	t := &tdx.ACPITables{Loader: loader, Files: map[string][]byte{}}
	for _, n := range names {
		if t.Files[n], err = read(n); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// parseMemorySize parses --memory as QEMU parses -m: a number with an
// optional K, M, G or T suffix (binary units); a bare number is MiB.
func parseMemorySize(s string) (uint64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "IB"), "B")
	shift := uint(20)
	if t != "" {
		switch t[len(t)-1] {
		case 'K':
			shift, t = 10, t[:len(t)-1]
		case 'M':
			shift, t = 20, t[:len(t)-1]
		case 'G':
			shift, t = 30, t[:len(t)-1]
		case 'T':
			shift, t = 40, t[:len(t)-1]
		}
	}
	n, err := strconv.ParseUint(t, 10, 64)
	if err != nil || n == 0 {
		return 0, usagef("--memory %q: want a size such as 2G, 2048M or 1T", s)
	}
	if n > (1<<52)>>shift {
		return 0, usagef("--memory %q: more than the 4 PiB a TD can address", s)
	}
	v := n << shift
	if v%ovmf.PageSize != 0 {
		return 0, usagef("--memory %q: not a multiple of 4 KiB", s)
	}
	return v, nil
}

// formatMemory prints a size in the largest unit that divides it.
func formatMemory(v uint64) string {
	for _, u := range []struct {
		shift  uint
		suffix string
	}{{40, "T"}, {30, "G"}, {20, "M"}, {10, "K"}} {
		if v%(1<<u.shift) == 0 {
			return strconv.FormatUint(v>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatUint(v, 10)
}
