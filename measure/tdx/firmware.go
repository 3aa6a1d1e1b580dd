package tdx

import (
	"errors"
	"fmt"
	"regexp"
	"sync"
	"unicode/utf16"

	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/ovmf/fv"
)

// FILE_GUIDs of the modules whose presence in OVMF's DXE volume decides
// RTMR inputs (the .inf files named; the same GUIDs from edk2-stable202211
// to edk2-stable202502).
var (
	dxeCoreFileGUID     = ovmf.MustParseGUID("d6a2cb7f-6a18-4e2f-b43b-9920a733700a") // MdeModulePkg/Core/Dxe/DxeMain.inf
	shellFileGUID       = ovmf.MustParseGUID("7c04a583-9e3e-4f1c-ad65-e05268d0b4d1") // ShellPkg/Application/Shell/Shell.inf (gUefiShellFileGuid)
	secureBootConfigDxe = ovmf.MustParseGUID("f0e6a44f-7195-41c3-ac64-54f202cd0a21") // SecurityPkg/VariableAuthenticated/SecureBootConfigDxe
	tdTcg2DxeFileGUID   = ovmf.MustParseGUID("f062221e-c607-44c2-b0b4-c3886331d351") // OvmfPkg/Tcg/TdTcg2Dxe (SecurityPkg/Tcg/TdTcg2Dxe before 202405)
	smbiosPlatformDxe   = ovmf.MustParseGUID("4110465d-5ff3-4f4b-b580-24ed0d06747a") // OvmfPkg/SmbiosPlatformDxe
	platformPeiGUID     = ovmf.MustParseGUID("222c386d-5abc-4fb4-b124-fbb82488acf4") // OvmfPkg/PlatformPei (OvmfPkgX64; IntelTdxX64 has no PEI)
	bootManagerMenuApp  = ovmf.MustParseGUID("eec25bdc-67f2-4d95-b1d5-f81b2039d11d") // MdeModulePkg BootManagerMenuApp.inf FILE_GUID
)

// ErrNoDXECore reports an image whose DXE volume could not be found: no
// DxeCore in any volume, opened LZMA sections included.
var ErrNoDXECore = errors.New("no DxeCore in the image's firmware volumes")

// Firmware is what the DXE firmware volume of an OVMF image says about the
// inputs of RTMR0-2. InspectFirmware fills it.
type Firmware struct {
	// UiApp is set when the boot manager menu application (UiApp,
	// PcdBootManagerMenuFile) is in the image; UiAppVolume is the
	// FvNameGuid of the volume holding it and UiAppName its
	// USER_INTERFACE name: both go into the Boot0000 load option.
	UiApp       bool
	UiAppVolume ovmf.GUID
	UiAppName   string
	// BootMenuApp is set when BootManagerMenuApp is in the image, which
	// edk2-stable202505 registers as the boot manager menu (Boot0000)
	// instead of UiApp; BootMenuAppVolume and BootMenuAppName as for UiApp.
	BootMenuApp       bool
	BootMenuAppVolume ovmf.GUID
	BootMenuAppName   string
	// PlatformPei is set when OvmfPkg's PlatformPei is in the image: an
	// OvmfPkgX64 build, which measures QEMU's fw_cfg items in PEI. The
	// PEI-less IntelTdxX64 build does so in SEC and is not modelled.
	PlatformPei bool
	// SMBIOS holds the type 0 strings compiled into SmbiosPlatformDxe;
	// SMBIOSKnown is set when they could be told apart (smbiosStrings).
	SMBIOS      SMBIOSFirmware
	SMBIOSKnown bool
	// Shell is set when the UEFI Shell application is in the image.
	Shell bool
	// SecureBootSupport is set when SecureBootConfigDxe is in the image:
	// OvmfPkgX64.fdf includes it exactly when SECURE_BOOT_ENABLE, which
	// also links the real AuthVariableLib into the variable driver (the
	// one that creates the SecureBoot variable).
	SecureBootSupport bool
	// CCMeasurement is set when TdTcg2Dxe (EFI_CC_MEASUREMENT_PROTOCOL) is
	// in the image; without it nothing is measured in DXE or by the kernel.
	CCMeasurement bool
	// EDK2 is the release read from the image, zero when no reliable
	// signal was found; EDK2Source says where it was read.
	EDK2       EDK2Release
	EDK2Source string
}

// InspectFirmware parses the firmware volumes of an OVMF image, opening
// LZMA-compressed sections with the standard-library decoder of ovmf/fv,
// and reports what the DXE volume holds.
func InspectFirmware(data []byte) (*Firmware, error) {
	vols, err := fv.Parse(data, fv.Options{Decompress: fv.LZMASection})
	if err != nil {
		return nil, fmt.Errorf("firmware volumes: %w", err)
	}
	if _, f := fv.FindFile(vols, dxeCoreFileGUID); f == nil {
		return nil, ErrNoDXECore
	}
	fw := &Firmware{}
	if v, f := fv.FindFile(vols, uiAppFileGUID); f != nil {
		fw.UiApp, fw.UiAppVolume, fw.UiAppName = true, v.Name, f.UI
	}
	if v, f := fv.FindFile(vols, bootManagerMenuApp); f != nil {
		fw.BootMenuApp, fw.BootMenuAppVolume, fw.BootMenuAppName = true, v.Name, f.UI
	}
	if _, f := fv.FindFile(vols, smbiosPlatformDxe); f != nil {
		var strs []string
		for _, s := range f.LeafSections(fv.SectionPE32) {
			strs = append(strs, alignedUTF16Strings(s.Data, 3)...)
		}
		fw.SMBIOS, fw.SMBIOSKnown = smbiosStrings(strs)
	}
	has := func(g ovmf.GUID) bool { _, f := fv.FindFile(vols, g); return f != nil }
	fw.PlatformPei = has(platformPeiGUID)
	fw.Shell = has(shellFileGUID)
	fw.SecureBootSupport = has(secureBootConfigDxe)
	fw.CCMeasurement = has(tdTcg2DxeFileGUID)
	fw.EDK2, fw.EDK2Source = releaseFromImage(vols)
	return fw, nil
}

// releaseVersion matches the PcdFirmwareVersionString values that carry an
// edk2 release: a Debian or Ubuntu package version of edk2 (upstream part
// YYYY.MM, from the edk2-stableYYYYMM tag) or the tag itself.
// It is compiled on first use: only RTMR predictions need it, and a
// package-level regexp would cost every command its compilation.
var releaseVersion = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?:(20\d\d)\.(0[1-9]|1[0-2])(?:\.\d+)?(?:\+[0-9A-Za-z.]+)?-[0-9A-Za-z.+~]+|edk2-stable(20\d\d)(0[1-9]|1[0-2])(?:\.\d+)?)$`)
})

// smbiosDate matches PcdFirmwareReleaseDateString as SMBIOS spells dates.
var smbiosDate = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\d\d/\d\d/\d{4}$`) })

// smbiosStrings tells apart the UTF-16 strings of SmbiosPlatformDxe: the
// literal fallbacks L"unknown" and L"02/02/2022" (InstallAllStructures),
// and the fixed PCDs PcdFirmwareReleaseDateString (a date),
// PcdFirmwareVersionString (an edk2 release, releaseVersion) and
// PcdFirmwareVendor (what remains). A PCD shorter than 3 characters is
// replaced by the fallback, and an empty one leaves no string; so with
// no date or version among them the fallback is used. It reports false
// when a kind has more than one candidate.
func smbiosStrings(strs []string) (SMBIOSFirmware, bool) {
	var fw SMBIOSFirmware
	seen := map[string]bool{}
	var dates, versions, vendors []string
	for _, s := range strs {
		if seen[s] {
			continue
		}
		seen[s] = true
		switch {
		case s == "unknown" || s == "02/02/2022":
		case smbiosDate().MatchString(s):
			dates = append(dates, s)
		case releaseVersion().MatchString(s):
			versions = append(versions, s)
		default:
			vendors = append(vendors, s)
		}
	}
	if !seen["unknown"] || !seen["02/02/2022"] || len(dates) > 1 || len(versions) > 1 || len(vendors) > 1 {
		return SMBIOSFirmware{}, false
	}
	pick := func(l []string) string {
		if len(l) == 0 {
			return ""
		}
		return l[0]
	}
	fw.Vendor, fw.Version, fw.Date = pick(vendors), pick(versions), pick(dates)
	return fw, true
}

// releaseFromImage reads PcdFirmwareVersionString where OVMF compiles it
// in: SmbiosPlatformDxe (SMBIOS type 0 BIOS version, edk2-stable202302 and
// later) and UiApp. It returns a release only when every candidate string
// in those modules names the same one.
func releaseFromImage(vols []fv.Volume) (EDK2Release, string) {
	var rel EDK2Release
	var src string
	for _, m := range []struct {
		guid ovmf.GUID
		name string
	}{{smbiosPlatformDxe, "SmbiosPlatformDxe"}, {uiAppFileGUID, "UiApp"}} {
		_, f := fv.FindFile(vols, m.guid)
		if f == nil {
			continue
		}
		for _, s := range f.LeafSections(fv.SectionPE32) {
			for _, str := range utf16Strings(s.Data, 6) {
				if !releaseVersion().MatchString(str) {
					continue
				}
				r, err := ParseEDK2Release(str)
				if err != nil {
					continue
				}
				if rel.Known() && r != rel {
					return EDK2Release{}, ""
				}
				if !rel.Known() {
					rel, src = r, fmt.Sprintf("PcdFirmwareVersionString %q in %s", str, m.name)
				}
			}
		}
	}
	return rel, src
}

// utf16Strings returns the NUL-terminated UTF-16LE strings of printable
// ASCII, 2-byte aligned, of at least minLen characters.
func utf16Strings(b []byte, minLen int) []string {
	var out []string
	var cur []uint16
	for i := 0; i+1 < len(b); i += 2 {
		c := uint16(b[i]) | uint16(b[i+1])<<8
		switch {
		case c >= 0x20 && c < 0x7f:
			cur = append(cur, c)
			continue
		case c == 0 && len(cur) >= minLen:
			out = append(out, string(utf16.Decode(cur)))
		}
		cur = cur[:0]
	}
	return out
}

// alignedUTF16Strings is utf16Strings for string data that may follow code
// directly: a string not preceded by a NUL code unit loses its leading
// characters up to the first letter or digit (trixie's SmbiosPlatformDxe
// has its vendor string right after the NOP 0f 1f 40 00, whose 0x40 would
// read as "@").
func alignedUTF16Strings(b []byte, minLen int) []string {
	var out []string
	start := -1
	alnum := func(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' }
	for i := 0; i+1 < len(b); i += 2 {
		c := uint16(b[i]) | uint16(b[i+1])<<8
		if c >= 0x20 && c < 0x7f {
			if start < 0 {
				start = i
			}
			continue
		}
		if c == 0 && start >= 0 {
			from := start
			if from >= 2 && (b[from-2] != 0 || b[from-1] != 0) {
				for from < i && !alnum(b[from]) {
					from += 2
				}
			}
			if (i-from)/2 >= minLen {
				u := make([]uint16, 0, (i-from)/2)
				for j := from; j < i; j += 2 {
					u = append(u, uint16(b[j])|uint16(b[j+1])<<8)
				}
				out = append(out, string(utf16.Decode(u)))
			}
		}
		start = -1
	}
	return out
}
