package tdx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/measure-cc/measure/measure/authenticode"
	"github.com/measure-cc/measure/measure/bzimage"
	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/ovmf/varstore"
)

// QEMUVersion is a QEMU release, major.minor. Two of its behaviours change
// the measurements: the default page-add order and whether it patches the
// kernel's setup header before the firmware hashes it.
type QEMUVersion struct{ Major, Minor int }

// DefaultQEMUVersion is the behaviour assumed when none is given: the first
// release that leaves a confidential guest's kernel unpatched.
var DefaultQEMUVersion = QEMUVersion{10, 2}

// ParseQEMUVersion parses "10.2", "9.2.0" or "8.2.2+ds-0ubuntu1".
func ParseQEMUVersion(s string) (QEMUVersion, error) {
	parts := strings.SplitN(strings.TrimSpace(s), ".", 3)
	if len(parts) < 2 {
		return QEMUVersion{}, fmt.Errorf("QEMU version %q, want major.minor such as 10.2", s)
	}
	minor := parts[1]
	if i := strings.IndexFunc(minor, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minor = minor[:i]
	}
	maj, err1 := strconv.Atoi(parts[0])
	mnr, err2 := strconv.Atoi(minor)
	if err1 != nil || err2 != nil || maj < 1 || maj > 99 || mnr > 99 {
		return QEMUVersion{}, fmt.Errorf("QEMU version %q, want major.minor such as 10.2", s)
	}
	return QEMUVersion{maj, mnr}, nil
}

func (v QEMUVersion) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// MarshalText implements encoding.TextMarshaler.
func (v QEMUVersion) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// AtLeast reports whether v is major.minor or later.
func (v QEMUVersion) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

// PatchesKernelHeader reports whether this QEMU writes loader fields into a
// TD's kernel setup header (up to 10.1; hw/i386/x86-common.c skips it for
// confidential guests from 10.2).
func (v QEMUVersion) PatchesKernelHeader() bool { return !v.AtLeast(10, 2) }

// DefaultPageAddOrder is the page-add order of this QEMU's TDX stack:
// two-pass for the 8.x out-of-tree stacks, single-pass from 9 on.
func (v QEMUVersion) DefaultPageAddOrder() PageAddOrder {
	if v.AtLeast(9, 0) {
		return SinglePass
	}
	return TwoPass
}

// EDK2Release is an edk2 stable tag, edk2-stableYYYYMM.
type EDK2Release struct{ Year, Month int }

// ParseEDK2Release parses "202502", "edk2-stable202502" or "2025.02" (the
// Debian package version).
func ParseEDK2Release(s string) (EDK2Release, error) {
	t := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "edk2-stable")
	t = strings.TrimPrefix(t, "stable")
	var y, m int
	var err error
	if a, b, ok := strings.Cut(t, "."); ok {
		if len(b) > 2 {
			b = b[:2]
		}
		y, err = strconv.Atoi(a)
		if err == nil {
			m, err = strconv.Atoi(b)
		}
	} else if len(t) >= 6 {
		y, err = strconv.Atoi(t[:4])
		if err == nil {
			m, err = strconv.Atoi(t[4:6])
		}
	} else {
		err = errors.New("too short")
	}
	if err != nil || y < 2019 || y > 2099 || m < 1 || m > 12 {
		return EDK2Release{}, fmt.Errorf("edk2 release %q, want edk2-stableYYYYMM, YYYYMM or YYYY.MM", s)
	}
	return EDK2Release{y, m}, nil
}

// Known reports whether the release was given.
func (r EDK2Release) Known() bool { return r.Year != 0 }

// Before reports whether r is older than edk2-stable(year)(month).
func (r EDK2Release) Before(year, month int) bool {
	return r.Year < year || r.Year == year && r.Month < month
}

func (r EDK2Release) String() string {
	if !r.Known() {
		return "unknown"
	}
	return fmt.Sprintf("edk2-stable%04d%02d", r.Year, r.Month)
}

// MarshalText implements encoding.TextMarshaler.
func (r EDK2Release) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// Blob is a file the measurement needs only the size and digest of.
type Blob struct {
	Size   uint64
	SHA384 Digest
}

// Config is everything besides the firmware that changes the measurements
// of a TD started by QEMU with direct boot.
type Config struct {
	// PageAddOrder of the VMM (see QEMUVersion.DefaultPageAddOrder).
	PageAddOrder PageAddOrder
	// QEMU is the VMM's release.
	QEMU QEMUVersion
	// Memory is the guest RAM in bytes (-m).
	Memory uint64
	// Kernel is the bzImage (-kernel); nil without direct boot.
	Kernel []byte
	// Initrd is -initrd; nil for none.
	Initrd *Blob
	// Cmdline is -append.
	Cmdline string
	// ACPI is what QEMU generated; nil when unknown.
	ACPI *ACPITables
	// EDK2 is the firmware's edk2 release; zero to read it from the image
	// (InspectFirmware), which overrides nothing given here.
	EDK2 EDK2Release
	// SecureBootSupport says whether the firmware was built with secure
	// boot support; nil to read it from the image.
	SecureBootSupport *bool
	// Machine is the q35 machine type version (pc-q35-X.Y); zero for the
	// QEMU release's own, which the q35 alias names. Only the SMBIOS event
	// (edk2-stable202505 and later) depends on it.
	Machine QEMUVersion
	// SMP is the vCPU topology (-smp); zero for QEMU's default, one vCPU.
	SMP SMP
	// SMBIOSProcessorID is the Processor ID of QEMU's SMBIOS type 4
	// structures: CPUID leaf 1 EAX (low half) and EDX of the vCPU model,
	// which with -cpu host are the host CPU's; nil when not known.
	SMBIOSProcessorID *uint64
}

// smbiosNotConfirmed is why RTMR0 stays null for edk2-stable202505 and
// later even when every event is computed (docs/tdx.md).
const smbiosNotConfirmed = "the SMBIOS event (EV_EFI_HANDOFF_TABLES) is modelled from the QEMU and edk2 sources, but no recorded event log or independent value confirms its digest yet, so RTMR0 is not reported; the fw_cfg and boot option events are checked against a recorded log"

// measures202505 reports whether the release measures fw_cfg and SMBIOS.
func measures202505(r EDK2Release) bool { return r.Known() && !r.Before(2025, 5) }

// DefaultMemory is the guest RAM assumed when none is given: QEMU's default
// -m (hw/core/machine.c, 128 MiB). MRTD depends on it only through the TD
// HOB, when the TD_HOB section has MR.EXTEND.
const DefaultMemory = 128 << 20

// MaxMemory is the largest guest RAM a TD can address (52 physical address
// bits).
const MaxMemory = 1 << 52

// ParseMemorySize parses a guest RAM size as QEMU parses -m: a number with
// an optional K, M, G or T suffix (binary units, "iB" or "B" after it
// allowed); a bare number is MiB. The size must be a positive multiple of
// 4 KiB and at most MaxMemory.
func ParseMemorySize(s string) (uint64, error) {
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
		return 0, fmt.Errorf("memory size %q: want a size such as 2G, 2048M or 1T", s)
	}
	if n > MaxMemory>>shift {
		return 0, fmt.Errorf("memory size %q: more than the 4 PiB a TD can address", s)
	}
	v := n << shift
	if v%ovmf.PageSize != 0 {
		return 0, fmt.Errorf("memory size %q: not a multiple of 4 KiB", s)
	}
	return v, nil
}

// FormatMemorySize prints a size in the largest unit that divides it, as
// ParseMemorySize reads it back: "2G", "2816M", "64K".
func FormatMemorySize(v uint64) string {
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

// Sourced is an input of the prediction and where it came from: "flag",
// "image: ..." or "unknown: ...".
type Sourced struct {
	Value  string `json:"value"`
	Source string `json:"source"`
}

// DerivedInputs are the inputs read from the image or given to override it.
type DerivedInputs struct {
	EDK2              Sourced `json:"edk2_version"`
	SecureBootSupport Sourced `json:"secure_boot_support"`
	Shell             Sourced `json:"uefi_shell"`
	CCMeasurement     Sourced `json:"cc_measurement"`
	// SMBIOSType0 is what OVMF puts into its SMBIOS type 0 structure
	// (edk2-stable202505 and later measure it).
	SMBIOSType0 Sourced `json:"smbios_type0"`
}

// Result is the measurement of one launch.
type Result struct {
	MRTD Digest
	// RTMRs at the moment the kernel takes over; nil where not computable.
	RTMRs [4]*Digest
	// Reasons says, for each nil RTMR, why.
	Reasons [4]string
	// Events is the predicted event log, every event that can be computed.
	Events []Event
	// Notes explain values that are easy to misread.
	Notes []string
	// KernelVersion is the version string of the kernel's setup header.
	KernelVersion string
	// KernelPatched tells whether the kernel was hashed with QEMU's setup
	// header patches.
	KernelPatched bool
	// Derived says which edk2 release, secure boot support, shell and CC
	// measurement support the prediction used, and where each came from.
	Derived DerivedInputs
}

// noKernelBootVariables is why RTMR0 is not computable without -kernel.
const noKernelBootVariables = "no --kernel: without direct boot the boot variables in RTMR0 depend on the VM's devices and the UEFI Shell"

// RTMR2 is measured by the Linux EFI stub into the TDX CC measurement
// protocol from this release on.
var stubMeasuresFrom = bzimage.Release{Major: 6, Minor: 9}

// UiApp boot option that OVMF's PlatformBootManagerLib registers as the boot
// manager menu before it boots a -kernel (edk2 before edk2-stable202505):
// "Fv(DXEFV)/FvFile(UiApp)", hidden, category APP.
var (
	dxeFVNameGUID = ovmf.MustParseGUID("7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1") // OvmfPkgX64.fdf [FV.DXEFV] FvNameGuid
	uiAppFileGUID = ovmf.MustParseGUID("462caa21-7614-4503-836e-8ab6f4662331") // MdeModulePkg UiApp.inf FILE_GUID
)

const (
	loadOptionActive      = 0x00000001
	loadOptionHidden      = 0x00000008
	loadOptionCategoryApp = 0x00000100
	dpTypeMedia           = 0x04
	dpSubPIWGFirmwareFile = 0x06
	dpSubPIWGFirmwareVol  = 0x07
	dpTypeEnd             = 0x7f
	dpSubEndEntire        = 0xff
)

// uiAppLoadOption is EFI_LOAD_OPTION (UEFI spec 3.1.3) for UiApp in the
// volume named fvName, described by its UI name (BmRegisterBootManagerMenu).
func uiAppLoadOption(fvName ovmf.GUID, desc string) []byte {
	return fvLoadOption(loadOptionActive|loadOptionHidden|loadOptionCategoryApp, desc, fvName, uiAppFileGUID)
}

// fvLoadOption is EFI_LOAD_OPTION (UEFI spec 3.1.3) for the application
// file in the volume fvName: Fv(fvName)/FvFile(file), no optional data.
func fvLoadOption(attributes uint32, desc string, fvName, file ovmf.GUID) []byte {
	var fp []byte
	for _, n := range []struct {
		sub  byte
		guid ovmf.GUID
	}{{dpSubPIWGFirmwareVol, fvName}, {dpSubPIWGFirmwareFile, file}} {
		fp = append(fp, dpTypeMedia, n.sub)
		fp = binary.LittleEndian.AppendUint16(fp, 4+16)
		fp = append(fp, n.guid[:]...)
	}
	fp = append(fp, dpTypeEnd, dpSubEndEntire, 4, 0)
	opt := binary.LittleEndian.AppendUint32(nil, attributes)
	opt = binary.LittleEndian.AppendUint16(opt, uint16(len(fp)))
	opt = append(opt, utf16le(desc+"\x00")...)
	return append(opt, fp...)
}

// MeasureMRTD computes MRTD alone, as Measure does, without inspecting the
// firmware's DXE volume or predicting the RTMRs: the fast path when only
// MRTD is wanted.
func MeasureMRTD(img *ovmf.Image, cfg Config) (Digest, error) {
	_, _, d, err := measureMRTD(img, cfg)
	return d, err
}

// measureMRTD checks cfg, builds the TD HOB QEMU passes and computes MRTD.
func measureMRTD(img *ovmf.Image, cfg Config) (*ovmf.TDVFMetadata, *TDHOB, Digest, error) {
	md, err := img.TDVFMetadata()
	if err != nil {
		return nil, nil, Digest{}, err
	}
	if cfg.Memory == 0 {
		return nil, nil, Digest{}, errors.New("guest memory size is 0")
	}
	if strings.IndexByte(cfg.Cmdline, 0) >= 0 {
		return nil, nil, Digest{}, errors.New("kernel command line contains a NUL byte, which QEMU cannot pass")
	}
	ram, err := TDRAM(md, Q35RAM(cfg.Memory))
	if err != nil {
		return nil, nil, Digest{}, fmt.Errorf("TD HOB for %d MiB of memory: %w", cfg.Memory>>20, err)
	}
	hob, err := NewTDHOB(md, ram)
	if err != nil {
		return nil, nil, Digest{}, err
	}
	mrtd, err := MRTD(img.Data(), md, cfg.PageAddOrder, hob.Marshal())
	if err != nil {
		return nil, nil, Digest{}, err
	}
	return md, hob, mrtd, nil
}

// Measure computes MRTD and the RTMRs of a TD started by QEMU from img with
// cfg, and the predicted event log.
func Measure(img *ovmf.Image, cfg Config) (*Result, error) {
	md, hob, mrtd, err := measureMRTD(img, cfg)
	if err != nil {
		return nil, err
	}
	data := img.Data()
	r := &Result{MRTD: mrtd}
	var reasons [4][]string
	notComputable := func(i int, why string) { reasons[i] = append(reasons[i], why) }

	fw, fwErr := InspectFirmware(data)
	cfg = r.deriveInputs(cfg, fw, fwErr)
	if fw != nil && !fw.CCMeasurement {
		// Nothing provides EFI_CC_MEASUREMENT_PROTOCOL: neither DXE nor
		// the kernel's EFI stub measures anything.
		r.Notes = append(r.Notes, "the image has no TdTcg2Dxe (built without CC_MEASUREMENT_ENABLE): nothing is measured in DXE or by the kernel, so RTMR1 and RTMR2 stay zero")
		if cfg.EDK2.Known() && cfg.EDK2.Before(2023, 2) {
			r.Notes = append(r.Notes, cfg.EDK2.String()+" measures nothing in SEC either (SecTdxHelperLib came with edk2-stable202302): RTMR0 stays zero")
		} else {
			r.Events = append(r.Events, Event{RTMR: 0, Kind: EventTDHOB, Digest: sha384(hob.Measured()), Description: fmt.Sprintf("TD HOB at %#x: %d RAM ranges for %d MiB (q35)", hob.Address, len(hob.Resources), cfg.Memory>>20)})
			if cfv, ok := md.Section(ovmf.TDVFSectionCFV); ok {
				r.Events = append(r.Events, Event{RTMR: 0, Kind: EventCFV, Digest: sha384(data[cfv.DataOffset : uint64(cfv.DataOffset)+uint64(cfv.RawDataSize)]), Description: fmt.Sprintf("CFV (variable store) at image offset %#x, %#x bytes", cfv.DataOffset, cfv.RawDataSize)})
			}
			notComputable(0, "the image has no TdTcg2Dxe; from edk2-stable202302 SEC (SecTdxHelperLib) may still extend RTMR0 with the TD HOB and CFV, which is not modelled without the release (--edk2-version; before 202302 RTMR0 stays zero)")
		}
		r.finish(reasons)
		return r, nil
	}

	// RTMR0: SEC measures the TD HOB and the CFV; DXE the secure boot
	// policy, a separator, QEMU's ACPI tables and the boot variables.
	r.Events = append(r.Events, Event{RTMR: 0, Kind: EventTDHOB, Digest: sha384(hob.Measured()), Description: fmt.Sprintf("TD HOB at %#x: %d RAM ranges for %d MiB (q35)", hob.Address, len(hob.Resources), cfg.Memory>>20)})
	cfv, hasCFV := md.Section(ovmf.TDVFSectionCFV)
	if !hasCFV {
		notComputable(0, "the TDVF metadata has no CFV section")
	} else {
		region := data[cfv.DataOffset : uint64(cfv.DataOffset)+uint64(cfv.RawDataSize)]
		r.Events = append(r.Events, Event{RTMR: 0, Kind: EventCFV, Digest: sha384(region), Description: fmt.Sprintf("CFV (variable store) at image offset %#x, %#x bytes", cfv.DataOffset, cfv.RawDataSize)})
		if measures202505(cfg.EDK2) {
			r.fwCfg202505(cfg, fw, notComputable)
		}
		vars, varErr := varstore.Parse(region)
		if varErr != nil {
			notComputable(0, "the variable store cannot be read: "+varErr.Error())
		} else {
			r.Events = append(r.Events, secureBootEvents(vars, cfg.SecureBootSupport, &r.Notes)...)
		}
		r.Events = append(r.Events, Event{RTMR: 0, Kind: EventSeparator, Digest: separatorDigest(), Description: "EV_SEPARATOR after the secure boot policy"})
		if cfg.ACPI == nil {
			notComputable(0, "the ACPI tables QEMU generated are not given (--acpi-tables): they depend on the vCPUs, devices and QEMU version and are not guessed")
		} else {
			ev, err := acpiEvents(cfg.ACPI)
			if err != nil {
				return nil, err
			}
			r.Events = append(r.Events, ev...)
		}
		if measures202505(cfg.EDK2) {
			r.smbios202505(cfg, fw, notComputable)
			if varErr == nil {
				r.bootOptions202505(cfg, fw, vars, notComputable)
			}
		}
		if varErr == nil && !measures202505(cfg.EDK2) {
			// (edk2-stable202505 and later register other boot options;
			// reported as not computable below.)
			// BdsDxe registers the boot manager menu (UiApp) as Boot0000 in
			// PlatformBootManagerBeforeConsole; OvmfPkg's BdsPlatform.c
			// boots -kernel (TryRunningQemuKernel) before it registers the
			// UEFI Shell, so the shell is not among the measured options.
			fvName, desc := dxeFVNameGUID, "UiApp"
			if fw != nil {
				fvName, desc = fw.UiAppVolume, fw.UiAppName
			}
			if _, ok := varstore.Lookup(vars, varstore.GlobalVariableGUID, "BootOrder"); ok {
				notComputable(0, "the variable store already holds BootOrder: the boot variables at boot depend on its history")
			} else if fw != nil && (!fw.UiApp || desc == "") {
				notComputable(0, "the image has no UiApp with a UI name: the boot manager menu option (Boot0000) is not modelled for it")
			} else if cfg.Kernel != nil {
				// Without -kernel the boot variables are not these (see
				// noKernelBootVariables): no event is listed for them.
				r.Events = append(r.Events,
					Event{RTMR: 0, Kind: EventBootVariable, Digest: sha384([]byte{0, 0}), Description: "BootOrder: 0000"},
					Event{RTMR: 0, Kind: EventBootVariable, Digest: sha384(uiAppLoadOption(fvName, desc)), Description: fmt.Sprintf("Boot0000: %s (boot manager menu), Fv(%s)/FvFile(%s)", desc, fvName, uiAppFileGUID)})
			}
			if cfg.Kernel != nil && fw != nil && fw.Shell {
				r.Notes = append(r.Notes, "the image carries the UEFI Shell; OVMF registers its boot option only after it boots -kernel, so it is not measured (it is with a persistent variable store or without -kernel)")
			}
		}
		if cfg.EDK2.Known() && cfg.EDK2.Before(2024, 11) {
			// TdTcg2Dxe before edk2 commit efaf8931bb (edk2-stable202411)
			// measured the ReadyToBoot separator into RTMR0, not RTMR1.
			r.Events = append(r.Events, Event{RTMR: 0, Kind: EventSeparator, Digest: separatorDigest(), Description: "EV_SEPARATOR at ReadyToBoot (edk2 before edk2-stable202411)"})
		}
	}
	if cfg.EDK2.Known() && cfg.EDK2.Before(2024, 8) && fw == nil {
		r.Notes = append(r.Notes, "OvmfPkgX64 before edk2-stable202408 measures into the RTMRs only when built with CC_MEASUREMENT_ENABLE=TRUE, and not at all before edk2-stable202302; otherwise RTMR0-2 stay zero")
	}
	if cfg.Kernel == nil {
		// Without -kernel, PlatformBootManagerLib registers boot options
		// for the VM's devices and the UEFI Shell before ReadyToBoot: the
		// measured boot variables are not determined by the inputs.
		notComputable(0, noKernelBootVariables)
	}
	switch {
	case !cfg.EDK2.Known():
		notComputable(0, "the firmware's edk2 release is not known (not readable from the image; --edk2-version): edk2-stable202505 changed the RTMR0 events")
	case measures202505(cfg.EDK2):
		notComputable(0, cfg.EDK2.String()+" also measures QEMU fw_cfg items and the SMBIOS table: "+smbiosNotConfirmed)
	}

	// RTMR1 and RTMR2: the kernel OVMF loads, the EFI actions around it,
	// and what the kernel's EFI stub measures.
	if cfg.Kernel == nil {
		notComputable(1, "no --kernel: without direct boot RTMR1 depends on the boot loader")
		notComputable(2, "no --kernel: without direct boot RTMR2 depends on the boot loader")
	} else if err := r.kernelEvents(cfg, hob, notComputable); err != nil {
		return nil, err
	}

	r.finish(reasons)
	return r, nil
}

// finish replays the events into the RTMRs that have no reason against
// them.
func (r *Result) finish(reasons [4][]string) {
	replayed := Replay(r.Events)
	for i := range r.RTMRs {
		if len(reasons[i]) > 0 {
			r.Reasons[i] = strings.Join(reasons[i], "; ")
			continue
		}
		d := replayed[i]
		r.RTMRs[i] = &d
	}
}

// deriveInputs fills what the flags left open from the image, records
// where each input came from, and returns cfg with the values to use.
func (r *Result) deriveInputs(cfg Config, fw *Firmware, fwErr error) Config {
	why := "unknown: the image's DXE volume cannot be read"
	if fwErr != nil {
		why += " (" + fwErr.Error() + ")"
	}
	fromImage := func(set bool, v bool, src string) Sourced {
		if !set {
			return Sourced{Value: "unknown", Source: why}
		}
		return Sourced{Value: strconv.FormatBool(v), Source: "image: " + src}
	}
	d := &r.Derived
	switch {
	case cfg.EDK2.Known():
		d.EDK2 = Sourced{Value: cfg.EDK2.String(), Source: "flag"}
		if fw != nil && fw.EDK2.Known() && fw.EDK2 != cfg.EDK2 {
			r.Notes = append(r.Notes, fmt.Sprintf("--edk2-version %s overrides %s read from the image (%s)", cfg.EDK2, fw.EDK2, fw.EDK2Source))
		}
	case fw != nil && fw.EDK2.Known():
		cfg.EDK2 = fw.EDK2
		d.EDK2 = Sourced{Value: fw.EDK2.String(), Source: "image: " + fw.EDK2Source}
	case fw != nil:
		d.EDK2 = Sourced{Value: "unknown", Source: "unknown: the image carries no PcdFirmwareVersionString naming an edk2 release (SmbiosPlatformDxe, UiApp)"}
	default:
		d.EDK2 = Sourced{Value: "unknown", Source: why}
	}
	switch {
	case cfg.SecureBootSupport != nil:
		d.SecureBootSupport = Sourced{Value: strconv.FormatBool(*cfg.SecureBootSupport), Source: "flag"}
		if fw != nil && fw.SecureBootSupport != *cfg.SecureBootSupport {
			r.Notes = append(r.Notes, fmt.Sprintf("--secure-boot-support %t overrides the image, which says %t", *cfg.SecureBootSupport, fw.SecureBootSupport))
		}
	case fw != nil:
		v := fw.SecureBootSupport
		cfg.SecureBootSupport = &v
		d.SecureBootSupport = fromImage(true, v, map[bool]string{true: "SecureBootConfigDxe is in the DXE volume", false: "no SecureBootConfigDxe in the DXE volume"}[v])
	default:
		d.SecureBootSupport = fromImage(false, false, "")
	}
	if fw != nil {
		d.Shell = fromImage(true, fw.Shell, map[bool]string{true: "Shell (gUefiShellFileGuid) is in the DXE volume", false: "no Shell (gUefiShellFileGuid) in the DXE volume"}[fw.Shell])
		d.CCMeasurement = fromImage(true, fw.CCMeasurement, map[bool]string{true: "TdTcg2Dxe is in the DXE volume", false: "no TdTcg2Dxe in the DXE volume"}[fw.CCMeasurement])
		d.SMBIOSType0 = Sourced{Value: "unknown", Source: "unknown: the UTF-16 strings of SmbiosPlatformDxe cannot be told apart"}
		if fw.SMBIOSKnown {
			t := fw.SMBIOS
			d.SMBIOSType0 = Sourced{Value: fmt.Sprintf("vendor %q, version %q, date %q", t.Vendor, t.Version, t.Date), Source: "image: PcdFirmwareVendor, PcdFirmwareVersionString, PcdFirmwareReleaseDateString in SmbiosPlatformDxe (empty: OVMF's fallback)"}
		}
	} else {
		d.SMBIOSType0 = fromImage(false, false, "")
		d.Shell = fromImage(false, false, "")
		d.CCMeasurement = fromImage(false, false, "")
	}
	return cfg
}

// secureBootEvents are the EV_EFI_VARIABLE_DRIVER_CONFIG events of
// TdTcg2Dxe's MeasureAllSecureVariables: SecureBoot, PK, KEK, db, dbx, and
// dbt when present. support says whether the firmware has secure boot
// support (nil: unknown).
//
// SecureBoot is created by AuthVariableLib (SecurityPkg), which OVMF links
// only with SECURE_BOOT_ENABLE: 1 when a PK is enrolled (user mode) and
// SecureBootEnable is absent or 1, else 0. Without secure boot support
// (AuthVariableLibNull) it does not exist.
func secureBootEvents(vars []varstore.Variable, support *bool, notes *[]string) []Event {
	var out []Event
	_, hasPK := varstore.Lookup(vars, varstore.GlobalVariableGUID, "PK")
	var secureBoot []byte
	present := true
	switch {
	case support == nil && hasPK:
		// The variable driver sets SecureBoot to 1 when a PK is enrolled.
		secureBoot = []byte{1}
		*notes = append(*notes, "SecureBoot is taken as 1 because the variable store holds a PK (secure boot support of the image unknown)")
	case support == nil:
		present = false
		*notes = append(*notes, "SecureBoot is taken as absent because the variable store holds no PK (secure boot support of the image unknown; a firmware built with SECURE_BOOT_ENABLE sets it to 0 instead)")
	case !*support:
		present = false
	default:
		enable, hasEnable := varstore.Lookup(vars, varstore.SecureBootEnableGUID, "SecureBootEnable")
		if hasPK && (!hasEnable || len(enable) > 0 && enable[0] == 1) {
			secureBoot = []byte{1}
		} else {
			secureBoot = []byte{0}
		}
	}
	for _, v := range []struct {
		vendor ovmf.GUID
		name   string
	}{{varstore.GlobalVariableGUID, "SecureBoot"}, {varstore.GlobalVariableGUID, "PK"}, {varstore.GlobalVariableGUID, "KEK"}, {varstore.ImageSecurityDatabaseGUID, "db"}, {varstore.ImageSecurityDatabaseGUID, "dbx"}} {
		d, ok := varstore.Lookup(vars, v.vendor, v.name)
		if v.name == "SecureBoot" {
			d, ok = secureBoot, present
		}
		desc := fmt.Sprintf("%s (%d bytes)", v.name, len(d))
		if !ok {
			desc = v.name + " (absent)"
		}
		out = append(out, Event{RTMR: 0, Kind: EventEFIVariable, Digest: variableDriverConfigDigest(v.vendor, v.name, d), Description: desc})
	}
	if d, ok := varstore.Lookup(vars, varstore.ImageSecurityDatabaseGUID, "dbt"); ok {
		out = append(out, Event{RTMR: 0, Kind: EventEFIVariable, Digest: variableDriverConfigDigest(varstore.ImageSecurityDatabaseGUID, "dbt", d), Description: fmt.Sprintf("dbt (%d bytes)", len(d))})
	}
	return out
}

func (r *Result) kernelEvents(cfg Config, hob *TDHOB, notComputable func(int, string)) error {
	hdr, err := bzimage.ParseSetupHeader(cfg.Kernel)
	if err != nil {
		return err
	}
	kernel := cfg.Kernel
	if cfg.QEMU.PatchesKernelHeader() {
		below := Q35RAM(cfg.Memory)[0].Length
		p := bzimage.LoaderPatch{Below4G: below, Cmdline: cfg.Cmdline, HasInitrd: cfg.Initrd != nil}
		if cfg.Initrd != nil {
			p.InitrdSize = cfg.Initrd.Size
		}
		if kernel, err = bzimage.Patch(cfg.Kernel, p); err != nil {
			return err
		}
		r.KernelPatched = true
	}
	kd, err := authenticode.SHA384(kernel)
	if err != nil {
		return fmt.Errorf("kernel: %w", err)
	}
	how := "as given"
	if r.KernelPatched {
		how = "with QEMU " + cfg.QEMU.String() + "'s setup header patches"
	}
	r.Events = append(r.Events,
		Event{RTMR: 1, Kind: EventKernel, Digest: Digest(kd), Description: "EV_EFI_BOOT_SERVICES_APPLICATION: kernel Authenticode SHA-384, " + how},
		Event{RTMR: 1, Kind: EventEFIAction, Digest: sha384([]byte(actionCallingEFIApplication)), Description: actionCallingEFIApplication},
	)
	if !(cfg.EDK2.Known() && cfg.EDK2.Before(2024, 11)) {
		// Older releases put the ReadyToBoot separator into RTMR0 (see Measure).
		if !cfg.EDK2.Known() {
			r.Notes = append(r.Notes, "RTMR1 assumes edk2-stable202411 or later, which measures the ReadyToBoot separator into RTMR1 (older TdTcg2Dxe put it into RTMR0); pass --edk2-version for older firmware")
		}
		r.Events = append(r.Events, Event{RTMR: 1, Kind: EventSeparator, Digest: separatorDigest(), Description: "EV_SEPARATOR at ReadyToBoot"})
	}
	r.Events = append(r.Events,
		Event{RTMR: 1, Kind: EventEFIAction, Digest: sha384([]byte(actionExitBootServices)), Description: actionExitBootServices},
		Event{RTMR: 1, Kind: EventEFIAction, Digest: sha384([]byte(actionExitBootServicesOK)), Description: actionExitBootServicesOK},
	)

	r.KernelVersion = bzimage.VersionString(cfg.Kernel, hdr)
	rel, err := bzimage.ParseRelease(r.KernelVersion)
	if err != nil {
		notComputable(2, "the kernel's version cannot be read from its setup header, so whether its EFI stub measures the command line and initrd is unknown")
		return nil
	}
	if !rel.AtLeast(stubMeasuresFrom.Major, stubMeasuresFrom.Minor) {
		r.Notes = append(r.Notes, fmt.Sprintf("kernel %s is older than %s: its EFI stub measures neither the command line nor the initrd, so RTMR2 stays zero", rel, stubMeasuresFrom))
		return nil
	}
	initrdSize := uint64(0)
	if cfg.Initrd != nil {
		initrdSize = cfg.Initrd.Size
	}
	if opts := LoadOptions(cfg.Cmdline, initrdSize); opts != nil {
		r.Events = append(r.Events, Event{RTMR: 2, Kind: EventCmdline, Digest: sha384(opts), Description: fmt.Sprintf("LOADED_IMAGE::LoadOptions %q", string(decodeUCS2(opts)))})
	}
	if initrdSize > 0 {
		r.Events = append(r.Events, Event{RTMR: 2, Kind: EventInitrd, Digest: cfg.Initrd.SHA384, Description: fmt.Sprintf("Linux initrd (%d bytes)", initrdSize)})
	}
	return nil
}

func decodeUCS2(b []byte) []byte {
	out := make([]byte, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		if b[i] == 0 && b[i+1] == 0 {
			break
		}
		out = append(out, b[i])
	}
	return out
}

// LoadOptions returns the LoadOptions OVMF gives a -kernel image
// (OvmfPkg/Library/X86QemuLoadImageLib, QemuLoadKernelImage): the command
// line, then " initrd=initrd" when the initrd is not empty, each byte as a
// UCS-2 code unit, NUL-terminated; nil when both are empty. The Linux EFI
// stub measures exactly these bytes.
func LoadOptions(cmdline string, initrdSize uint64) []byte {
	opts := ucs2Bytes(cmdline)
	if initrdSize > 0 {
		opts = append(opts, ucs2Bytes(" initrd=initrd")...)
	}
	if len(opts) == 0 {
		return nil
	}
	return append(opts, 0, 0)
}
