// Package measure is the one route from a firmware image, an optional
// measured direct boot and a set of launch descriptions to the values an
// attestation report or quote carries: SEV and SEV-ES LAUNCH_DIGEST,
// SEV-SNP MEASUREMENT, TDX MRTD and RTMR0-3. Each value comes back typed
// with its register name (as provenance.Registers names them) and its hash
// algorithm.
//
// It is a thin facade over measure/snp (SEV, SEV-ES, SEV-SNP) and
// measure/tdx (TDX): it decides which platform computes what, shares the
// work between launches (the firmware pages are hashed once for every
// SEV-family launch, each VMSA chain is extended once), and re-exports the
// few platform types a launch description needs. Every value a caller
// records comes through it: builders and oci import this package and never
// measure/snp or measure/tdx (arch_test.go holds them to it); the CLI and
// verify name platform types (the TDX event log, vCPU model tables) but
// compute through here. The parsers of foreign formats the platforms read
// (measure/bzimage, measure/authenticode, measure/acpiloader,
// ovmf/varstore) are separate packages that tests share.
//
// A launch description is one struct per platform (SEV, SEVES, SNP, TDX);
// what varies between launches of one image is a field, so a new knob (the
// named initial-state variants of a VMM or host generation, issue 14's
// launch profiles, the Profile field of SEVES and SNP) is one more field
// whose zero value is today's behaviour.
//
// Like the rest of the core it reads no files and keeps no global state;
// inputs come in as bytes, digests or readers. Standard library only.
package measure

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/measure-cc/measure/measure/snp"
	"github.com/measure-cc/measure/measure/tdx"
	"github.com/measure-cc/measure/ovmf"
)

// Platform is the confidential-computing platform a value is for, spelled
// as the reference-values predicate spells it.
type Platform string

// Platforms.
const (
	PlatformSEV   Platform = "sev"
	PlatformSEVES Platform = "sev-es"
	PlatformSNP   Platform = "sev-snp"
	PlatformTDX   Platform = "tdx"
)

// Register is the report or quote field a value is expected in.
type Register string

// Registers: the SEV and SEV-ES launch digest (the report's MEASURE is an
// HMAC over it), the SEV-SNP report's MEASUREMENT, the TDX quote's MRTD and
// RTMRs.
const (
	LaunchDigest Register = "LAUNCH_DIGEST"
	Measurement  Register = "MEASUREMENT"
	MRTD         Register = "MRTD"
	RTMR0        Register = "RTMR0"
	RTMR1        Register = "RTMR1"
	RTMR2        Register = "RTMR2"
	RTMR3        Register = "RTMR3"
)

// RTMR returns the TDX runtime register i (0 to 3), or "".
func RTMR(i int) Register {
	switch i {
	case 0:
		return RTMR0
	case 1:
		return RTMR1
	case 2:
		return RTMR2
	case 3:
		return RTMR3
	}
	return ""
}

// Registers returns the registers a platform's values can be for.
func Registers(p Platform) []Register {
	switch p {
	case PlatformSEV, PlatformSEVES:
		return []Register{LaunchDigest}
	case PlatformSNP:
		return []Register{Measurement}
	case PlatformTDX:
		return []Register{MRTD, RTMR0, RTMR1, RTMR2, RTMR3}
	}
	return nil
}

// Algorithm is a value's hash algorithm, spelled as in-toto digest sets
// spell it.
type Algorithm string

// Algorithms.
const (
	SHA256 Algorithm = "sha256"
	SHA384 Algorithm = "sha384"
)

// Size returns the digest size in bytes, 0 for an unknown algorithm.
func (a Algorithm) Size() int {
	switch a {
	case SHA256:
		return sha256.Size
	case SHA384:
		return sha512.Size384
	}
	return 0
}

// Value is one computed register value.
type Value struct {
	Register  Register
	Algorithm Algorithm
	digest    [sha512.Size384]byte
}

// NewValue returns the value of reg whose alg digest is b.
func NewValue(reg Register, alg Algorithm, b []byte) (Value, error) {
	if n := alg.Size(); n == 0 || len(b) != n {
		return Value{}, fmt.Errorf("%s value: %d bytes of %q, want a sha256 (32) or sha384 (48) digest", reg, len(b), alg)
	}
	v := Value{Register: reg, Algorithm: alg}
	copy(v.digest[:], b)
	return v, nil
}

func sha384Value(reg Register, d [sha512.Size384]byte) Value {
	return Value{Register: reg, Algorithm: SHA384, digest: d}
}

func sha256Value(reg Register, d [sha256.Size]byte) Value {
	v := Value{Register: reg, Algorithm: SHA256}
	copy(v.digest[:], d[:])
	return v
}

// Bytes returns the digest, Algorithm.Size() bytes.
func (v Value) Bytes() []byte { return v.digest[:v.Algorithm.Size()] }

// String returns the digest in lower-case hex.
func (v Value) String() string { return hex.EncodeToString(v.Bytes()) }

// MarshalText implements encoding.TextMarshaler as lower-case hex.
func (v Value) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// Platform types a launch description uses.
type (
	// VMM is the hypervisor that builds the initial vCPU state (SEV-ES,
	// SEV-SNP).
	VMM = snp.VMMType
	// KernelHashes are the digests of QEMU's SEV hashes table.
	KernelHashes = snp.KernelHashes
	// PageAddOrder is the order in which the VMM adds and measures TDX pages.
	PageAddOrder = tdx.PageAddOrder
	// QEMUVersion is a QEMU release (TDX).
	QEMUVersion = tdx.QEMUVersion
	// EDK2Release is an edk2 stable tag (TDX RTMRs).
	EDK2Release = tdx.EDK2Release
	// ACPITables are the ACPI fw_cfg files QEMU generated (TDX RTMR0).
	ACPITables = tdx.ACPITables
	// TDXPrediction is the whole TDX prediction of one launch: the event
	// log, the RTMRs with the reasons for those that are not computable,
	// notes, and the inputs read from the image.
	TDXPrediction = tdx.Result
	// Profile names a VMM's initial vCPU state in one period (SEV-ES,
	// SEV-SNP): the VMSA fields in which VMMs and host generations differ.
	// "" is the VMM's profile of today.
	Profile = snp.Profile
	// ProfileInfo documents a launch profile: its VMM, the values it puts
	// in the VMSA, when hosts used it, its sources and known answers.
	ProfileInfo = snp.ProfileInfo
)

// Launch profiles (see Profiles and docs/profiles.md).
const (
	ProfileQEMUInit2 = snp.ProfileQEMUInit2
	ProfileQEMUInit  = snp.ProfileQEMUInit
	ProfileEC2RDX600 = snp.ProfileEC2RDX600
	ProfileEC2RDX0   = snp.ProfileEC2RDX0
	ProfileGCE       = snp.ProfileGCE
)

// ErrProfile reports a launch profile that is unknown or belongs to another
// VMM type than the launch's: a usage error.
var ErrProfile = snp.ErrProfile

// Profiles returns every launch profile with its documentation, each VMM's
// default (today's state) first.
func Profiles() []ProfileInfo { return snp.Profiles() }

// ParseProfile parses a launch profile name, ignoring case.
func ParseProfile(s string) (Profile, error) { return snp.ParseProfile(s) }

// DefaultProfile returns the profile a launch of vmm without one follows.
func DefaultProfile(vmm VMM) Profile { return snp.DefaultProfile(vmm) }

// VMM types.
const (
	VMMQEMU = snp.VMMQEMU
	VMMEC2  = snp.VMMEC2
	VMMGCE  = snp.VMMGCE
)

// TDX page-add orders.
const (
	SinglePass = tdx.SinglePass
	TwoPass    = tdx.TwoPass
)

// MaxVCPUs bounds the vCPU count of an SEV-ES or SEV-SNP launch.
const MaxVCPUs = snp.MaxVCPUs

// VMMs returns every VMM type.
func VMMs() []VMM { return append([]VMM(nil), snp.VMMTypes...) }

// ParseVMM parses qemu, ec2 or gce, ignoring case.
func ParseVMM(s string) (VMM, error) { return snp.ParseVMMType(s) }

// ParsePageAddOrder parses single-pass or two-pass.
func ParsePageAddOrder(s string) (PageAddOrder, error) { return tdx.ParsePageAddOrder(s) }

// ParseQEMUVersion parses a QEMU release such as 10.2 or 8.2.2+ds-0ubuntu1.
func ParseQEMUVersion(s string) (QEMUVersion, error) { return tdx.ParseQEMUVersion(s) }

// CPU is a vCPU model as SEV-ES and SEV-SNP launches under QEMU see it: the
// CPUID Fn0000_0001 EAX signature goes into each VMSA.
type CPU struct {
	// Name is the QEMU model name, empty when the model was given by its
	// signature.
	Name string
	// Signature is CPUID Fn0000_0001 EAX.
	Signature uint32
}

// LookupCPU finds a QEMU vCPU model by name, ignoring case.
func LookupCPU(name string) (CPU, error) {
	c, err := snp.LookupCPUType(name)
	if err != nil {
		return CPU{}, err
	}
	return CPU{Name: c.Name, Signature: c.Signature()}, nil
}

// Launch describes one launch of a firmware: SEV, SEVES, SNP or TDX.
type Launch interface {
	// Platform is the platform the launch runs on.
	Platform() Platform
	// String describes the launch in one line.
	String() string
	launch()
}

// SEV is a launch under SEV without SEV-ES: nothing but the firmware and the
// boot decides its digest.
type SEV struct{}

// SEVES is a launch under SEV-ES.
type SEVES struct {
	VMM   VMM
	VCPUs int
	// CPU is the vCPU model; only QEMU puts its signature in the VMSA.
	CPU CPU
	// Profile is the VMM's initial vCPU state in one period; "" is the
	// VMM's profile of today. One of another VMM is an ErrProfile error.
	Profile Profile
}

// SNP is a launch under SEV-SNP.
type SNP struct {
	VMM   VMM
	VCPUs int
	// CPU is the vCPU model; only QEMU puts its signature in the VMSA.
	CPU CPU
	// GuestFeatures is the VMSA SEV_FEATURES (0x1, SNPActive, for QEMU
	// with upstream KVM).
	GuestFeatures uint64
	// Profile is the VMM's initial vCPU state in one period; "" is the
	// VMM's profile of today. One of another VMM is an ErrProfile error.
	Profile Profile
}

// TDX is a launch under TDX by QEMU.
type TDX struct {
	PageAddOrder PageAddOrder
	QEMU         QEMUVersion
	// Memory is the guest RAM in bytes (QEMU -m); see ParseMemorySize.
	Memory uint64
	// RTMRs asks for the RTMR prediction too: the event log of a QEMU
	// direct boot, which reads the firmware's (compressed) DXE volume.
	// Without it only MRTD is computed.
	RTMRs bool
	// ACPI is what QEMU generated for the VM (RTMR0); nil when unknown.
	ACPI *ACPITables
	// EDK2 and SecureBootSupport override what the image says (RTMRs).
	EDK2              EDK2Release
	SecureBootSupport *bool
	// Machine, SMP and SMBIOSProcessorID decide the SMBIOS event of
	// edk2-stable202505 and later (RTMR0); see tdx.Config.
	Machine           QEMUVersion
	SMP               tdx.SMP
	SMBIOSProcessorID *uint64
}

// DefaultTDX is the launch measure tdx assumes without flags: QEMU
// tdx.DefaultQEMUVersion with its page-add order and QEMU's default 128 MiB
// of RAM, MRTD only.
func DefaultTDX() TDX {
	q := tdx.DefaultQEMUVersion
	return TDX{PageAddOrder: q.DefaultPageAddOrder(), QEMU: q, Memory: tdx.DefaultMemory}
}

// ParseMemorySize parses a guest RAM size as QEMU parses -m (2G, 2048M, a
// bare number of MiB); FormatMemorySize is its inverse.
func ParseMemorySize(s string) (uint64, error) { return tdx.ParseMemorySize(s) }

// FormatMemorySize prints a size in the largest binary unit that divides it.
func FormatMemorySize(v uint64) string { return tdx.FormatMemorySize(v) }

// Platform returns PlatformSEV.
func (SEV) Platform() Platform { return PlatformSEV }

// Platform returns PlatformSEVES.
func (SEVES) Platform() Platform { return PlatformSEVES }

// Platform returns PlatformSNP.
func (SNP) Platform() Platform { return PlatformSNP }

// Platform returns PlatformTDX.
func (TDX) Platform() Platform { return PlatformTDX }

func (SEV) launch()   {}
func (SEVES) launch() {}
func (SNP) launch()   {}
func (TDX) launch()   {}

func (SEV) String() string { return "sev" }

func (l SEVES) String() string {
	return fmt.Sprintf("sev-es %s, %d vCPUs%s%s", l.VMM, l.VCPUs, cpuString(l.VMM, l.CPU), profileString(l.Profile))
}

func (l SNP) String() string {
	return fmt.Sprintf("sev-snp %s, %d vCPUs%s, guest features %#x%s", l.VMM, l.VCPUs, cpuString(l.VMM, l.CPU), l.GuestFeatures, profileString(l.Profile))
}

func (l TDX) String() string {
	return fmt.Sprintf("tdx QEMU %s, %s, %s of RAM", l.QEMU, l.PageAddOrder, tdx.FormatMemorySize(l.Memory))
}

// profileString names an explicit profile; the default adds nothing, so
// descriptions of launches without one read as they always have.
func profileString(p Profile) string {
	if p == "" {
		return ""
	}
	return fmt.Sprintf(", profile %s", p)
}

func cpuString(v VMM, c CPU) string {
	switch {
	case v != VMMQEMU:
		return ""
	case c.Name != "":
		return fmt.Sprintf(", %s (%#x)", c.Name, c.Signature)
	}
	return fmt.Sprintf(", vCPU signature %#x", c.Signature)
}

// Boot is QEMU's measured direct boot: -kernel, -initrd, -append.
type Boot struct {
	// Kernel is the -kernel file. SEV launches need its SHA-256 only;
	// TDX RTMRs read its setup header and PE image.
	Kernel []byte
	// Initrd is the -initrd file, nil for none.
	Initrd *Blob
	// Cmdline is -append.
	Cmdline string
}

// Blob is a file the measurements need only the size and digests of.
type Blob struct {
	Size   uint64
	SHA256 [sha256.Size]byte
	SHA384 [sha512.Size384]byte
}

// HashBlob reads r to its end and returns its size and both digests. The
// two hashes run side by side, so it costs about one SHA-384 pass.
func HashBlob(r io.Reader) (*Blob, error) {
	const chunk = 256 << 10
	h256, h384 := sha256.New(), sha512.New384()
	bufs := [2][]byte{make([]byte, chunk), make([]byte, chunk)}
	b := &Blob{}
	var wg sync.WaitGroup
	for i := 0; ; i++ {
		buf := bufs[i%2]
		n, err := io.ReadFull(r, buf)
		// The other buffer's SHA-384 may still run; this one is free.
		wg.Wait()
		if n > 0 {
			b.Size += uint64(n)
			data := buf[:n]
			wg.Add(1)
			go func() {
				defer wg.Done()
				h384.Write(data)
			}()
			h256.Write(data)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			wg.Wait()
			return nil, err
		}
	}
	wg.Wait()
	h256.Sum(b.SHA256[:0])
	h384.Sum(b.SHA384[:0])
	return b, nil
}

// KernelHashes returns the digests QEMU puts in the SEV hashes table for
// this boot (target/i386/sev.c): the kernel's, the initrd's (of no bytes
// without one) and the NUL-terminated command line's SHA-256.
func (b *Boot) KernelHashes() *KernelHashes {
	kh := &KernelHashes{Kernel: sha256.Sum256(b.Kernel), Initrd: sha256.Sum256(nil)}
	if b.Initrd != nil {
		kh.Initrd = b.Initrd.SHA256
	}
	kh.Cmdline = sha256.Sum256(append([]byte(b.Cmdline), 0))
	return kh
}

// Options are the rarely needed inputs of a Measurer.
type Options struct {
	// SNPFirmwareDigest, when set, replaces the SEV-SNP digest of the
	// firmware pages (a value of SNPFirmwareDigest, sev-snp-measure's
	// "OVMF hash"); it applies to SEV-SNP only.
	SNPFirmwareDigest *Value
	// KernelHashes, when set, are the SEV hashes table digests to measure
	// instead of those of the Boot (which may then be nil): a search that
	// tries a boot without its initrd or command line sets them.
	KernelHashes *KernelHashes
}

// SNPFirmwareDigest returns the SEV-SNP launch digest after the firmware
// pages alone: not a MEASUREMENT a report carries, but the seed that
// Options.SNPFirmwareDigest and `measure snp --snp-ovmf-hash` start from.
func SNPFirmwareDigest(img *ovmf.Image) Value {
	return sha384Value(Measurement, snp.FirmwareDigest(img))
}

// Result is what one launch measures to.
type Result struct {
	Launch Launch
	// Values holds the launch's register values: LAUNCH_DIGEST,
	// MEASUREMENT or MRTD, then for a TDX launch with RTMRs each RTMR that
	// is computable.
	Values []Value
	// TDX is the whole prediction of a TDX launch with RTMRs.
	TDX *TDXPrediction
}

// Value returns the value of reg, if the result has one.
func (r *Result) Value(reg Register) (Value, bool) {
	for _, v := range r.Values {
		if v.Register == reg {
			return v, true
		}
	}
	return Value{}, false
}

// Measurer computes the values of many launches of one firmware and boot,
// sharing the work they have in common. It is not safe for concurrent use.
type Measurer struct {
	img  *ovmf.Image
	boot *Boot
	opts Options
	sev  *snp.Measurer
	mrtd map[mrtdKey]tdx.Digest
}

type mrtdKey struct {
	order  PageAddOrder
	memory uint64
}

// NewMeasurer returns a Measurer for img, booting boot (nil: no measured
// direct boot).
func NewMeasurer(img *ovmf.Image, boot *Boot, opts Options) *Measurer {
	return &Measurer{img: img, boot: boot, opts: opts, mrtd: map[mrtdKey]tdx.Digest{}}
}

// errNoLaunch reports a nil Launch.
var errNoLaunch = errors.New("launch is nil")

// Measure computes the values of one launch.
func (m *Measurer) Measure(l Launch) (Result, error) {
	r := Result{Launch: l}
	switch l := l.(type) {
	case SEV:
		d, err := m.snp().SEV()
		if err != nil {
			return r, err
		}
		r.Values = []Value{sha256Value(LaunchDigest, d)}
	case SEVES:
		d, err := m.snp().SEVES(snp.Config{VCPUs: l.VCPUs, VCPUSig: l.CPU.Signature, VMM: l.VMM, Profile: l.Profile})
		if err != nil {
			return r, err
		}
		r.Values = []Value{sha256Value(LaunchDigest, d)}
	case SNP:
		d, err := m.snp().SNP(snp.Config{VCPUs: l.VCPUs, VCPUSig: l.CPU.Signature, VMM: l.VMM, GuestFeatures: l.GuestFeatures, Profile: l.Profile})
		if err != nil {
			return r, err
		}
		r.Values = []Value{sha384Value(Measurement, d)}
	case TDX:
		return m.measureTDX(l)
	case nil:
		return r, errNoLaunch
	default:
		return r, fmt.Errorf("launch type %T is unknown", l)
	}
	return r, nil
}

// snp returns the SEV-family measurer, created on first use.
func (m *Measurer) snp() *snp.Measurer {
	if m.sev == nil {
		kh := m.opts.KernelHashes
		if kh == nil && m.boot != nil {
			kh = m.boot.KernelHashes()
		}
		var seed *snp.SNPDigest
		if v := m.opts.SNPFirmwareDigest; v != nil {
			d := snp.SNPDigest(v.digest)
			seed = &d
		}
		m.sev = snp.NewMeasurer(m.img, kh, seed)
	}
	return m.sev
}

// measureTDX computes MRTD through the one route that builds the TD HOB QEMU
// writes (tdx.MeasureMRTD, or tdx.Measure for the RTMRs, which shares it).
func (m *Measurer) measureTDX(l TDX) (Result, error) {
	r := Result{Launch: l}
	cfg := tdx.Config{
		PageAddOrder: l.PageAddOrder, QEMU: l.QEMU, Memory: l.Memory,
		ACPI: l.ACPI, EDK2: l.EDK2, SecureBootSupport: l.SecureBootSupport,
		Machine: l.Machine, SMP: l.SMP, SMBIOSProcessorID: l.SMBIOSProcessorID,
	}
	if b := m.boot; b != nil {
		cfg.Kernel, cfg.Cmdline = b.Kernel, b.Cmdline
		if b.Initrd != nil {
			cfg.Initrd = &tdx.Blob{Size: b.Initrd.Size, SHA384: b.Initrd.SHA384}
		}
	}
	if !l.RTMRs {
		key := mrtdKey{l.PageAddOrder, l.Memory}
		d, ok := m.mrtd[key]
		if !ok {
			var err error
			if d, err = tdx.MeasureMRTD(m.img, cfg); err != nil {
				return r, err
			}
			m.mrtd[key] = d
		}
		r.Values = []Value{sha384Value(MRTD, d)}
		return r, nil
	}
	res, err := tdx.Measure(m.img, cfg)
	if err != nil {
		return r, err
	}
	r.TDX = res
	r.Values = []Value{sha384Value(MRTD, res.MRTD)}
	for i, d := range res.RTMRs {
		if d != nil {
			r.Values = append(r.Values, sha384Value(RTMR(i), *d))
		}
	}
	return r, nil
}

// Compute measures every launch of img and boot (nil: no measured direct
// boot), in order. It stops at the first launch that cannot be measured.
func Compute(img *ovmf.Image, boot *Boot, launches []Launch, opts Options) ([]Result, error) {
	m := NewMeasurer(img, boot, opts)
	out := make([]Result, 0, len(launches))
	for _, l := range launches {
		r, err := m.Measure(l)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// VMSAs returns the 4096-byte VMSA page of each vCPU of an SEV-ES or
// SEV-SNP launch, vCPU 0 first: the bytes its digest covers, what
// sev-snp-measure's --dump-vmsa writes. The application processors' pages
// may share memory; callers must not modify them.
func (m *Measurer) VMSAs(l Launch) ([][]byte, error) {
	switch l := l.(type) {
	case SEVES:
		return m.snp().SEVESVMSAs(snp.Config{VCPUs: l.VCPUs, VCPUSig: l.CPU.Signature, VMM: l.VMM, Profile: l.Profile})
	case SNP:
		return m.snp().SNPVMSAs(snp.Config{VCPUs: l.VCPUs, VCPUSig: l.CPU.Signature, VMM: l.VMM, GuestFeatures: l.GuestFeatures, Profile: l.Profile})
	case nil:
		return nil, errNoLaunch
	}
	return nil, fmt.Errorf("launch %s has no VMSA", l)
}

// SVSM is an SEV-SNP launch of a flat COCONUT-SVSM binary below OVMF by
// QEMU: sev-snp-measure's --mode snp:svsm (docs/svsm.md). Its VMSA's
// SEV_FEATURES is always 0x1. It is measured by an SVSMMeasurer, not a
// Measurer, and is not a Launch.
type SVSM struct {
	VCPUs int
	CPU   CPU
	// Profile is a QEMU launch profile; it decides MXCSR and FCW. "" is
	// QEMU's default, ProfileQEMUInit2.
	Profile Profile
	// SevSnpMeasureFCW reproduces sev-snp-measure v0.0.10 and later, whose
	// SVSM VMSA has MXCSR 0x1f80 but FCW 0 (a bug: no KVM produces it).
	// Only with ProfileQEMUInit2.
	SevSnpMeasureFCW bool
}

func (l SVSM) String() string {
	s := fmt.Sprintf("sev-snp svsm qemu, %d vCPUs%s%s", l.VCPUs, cpuString(VMMQEMU, l.CPU), profileString(l.Profile))
	if l.SevSnpMeasureFCW {
		s += ", sev-snp-measure FCW 0"
	}
	return s
}

// SNP returns the SEV-SNP launch the SVSM launch is one of: its VMM,
// vCPUs, vCPU model, guest features and profile, for records that describe
// SNP launches.
func (l SVSM) SNP() SNP {
	return SNP{VMM: VMMQEMU, VCPUs: l.VCPUs, CPU: l.CPU, GuestFeatures: snp.SVSMSEVFeatures, Profile: l.Profile}
}

// ErrNoSVSMInfo reports an SVSM binary without the SVSM_INFO footer entry.
var ErrNoSVSMInfo = snp.ErrNoSVSMInfo

// SVSMLayout is where QEMU maps OVMF_CODE, OVMF_VARS and the SVSM, and the
// SVSM's entry point.
type SVSMLayout = snp.SVSMLayout

// SVSMMeasurer computes the MEASUREMENT of SVSM launches of one OVMF, SVSM
// binary and OVMF_VARS size. It is not safe for concurrent use.
type SVSMMeasurer struct{ m *snp.SVSMMeasurer }

// NewSVSMMeasurer lays out firmware (OVMF_CODE), varsSize bytes of
// OVMF_VARS (a non-zero multiple of 4 KiB) and svsm below 4 GiB as QEMU
// does and measures their pages.
func NewSVSMMeasurer(firmware, svsm *ovmf.Image, varsSize uint64) (*SVSMMeasurer, error) {
	m, err := snp.NewSVSMMeasurer(firmware, svsm, varsSize)
	if err != nil {
		return nil, err
	}
	return &SVSMMeasurer{m}, nil
}

// Layout returns the addresses the measurement assumed.
func (m *SVSMMeasurer) Layout() SVSMLayout { return m.m.Layout() }

func (l SVSM) config() snp.SVSMConfig {
	return snp.SVSMConfig{VCPUs: l.VCPUs, VCPUSig: l.CPU.Signature, Profile: l.Profile, SevSnpMeasureFCW: l.SevSnpMeasureFCW}
}

// Measure returns the launch's MEASUREMENT.
func (m *SVSMMeasurer) Measure(l SVSM) (Value, error) {
	d, err := m.m.SNP(l.config())
	if err != nil {
		return Value{}, err
	}
	return sha384Value(Measurement, d), nil
}

// VMSAs returns the VMSA page of each vCPU (all identical; they share
// memory, callers must not modify them).
func (m *SVSMMeasurer) VMSAs(l SVSM) ([][]byte, error) {
	v, err := m.m.VMSA(l.config())
	if err != nil {
		return nil, err
	}
	page := v.Marshal()
	pages := make([][]byte, l.VCPUs)
	for i := range pages {
		pages[i] = page
	}
	return pages, nil
}
