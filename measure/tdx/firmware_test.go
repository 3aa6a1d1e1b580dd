package tdx

import (
	"crypto/sha512"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/measure-cc/measure/measure/authenticode"
	"github.com/measure-cc/measure/measure/tdx/tdxtest"
	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/ovmf/ovmftest"
	"github.com/measure-cc/measure/ovmf/varstore"
)

// repoFixture reads a firmware image committed under testdata/fixtures.
func repoFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "fixtures", name))
	if err != nil {
		t.Skipf("fixture %s: %v", name, err)
	}
	return b
}

// forkyOVMF reads Debian forky's OVMF.fd (ovmf-generic 2026.08+ds-2),
// committed under measure/tdx/testdata.
func forkyOVMF(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "forky-2026.08-OVMF.fd"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestInspectFirmware checks what the DXE volumes of Debian's OVMF say,
// against the package versions (testdata/fixtures/README.md) and the build
// flags in debian/rules: bookworm's OVMF.fd is a secure boot build of
// 2022.11 (before CC measurement existed), trixie's one of 2025.02 with
// OVMF_4M_NO_SECBOOT_FLAGS. Both build the shell.
func TestInspectFirmware(t *testing.T) {
	tests := []struct {
		file     string
		want     Firmware
		wantFrom string
	}{
		{"bookworm-OVMF.fd", Firmware{UiApp: true, UiAppVolume: dxeFVNameGUID, UiAppName: "UiApp", PlatformPei: true, Shell: true, SecureBootSupport: true, CCMeasurement: false}, ""},
		{"trixie-OVMF.fd", Firmware{UiApp: true, UiAppVolume: dxeFVNameGUID, UiAppName: "UiApp", PlatformPei: true, Shell: true, SecureBootSupport: false, CCMeasurement: true, EDK2: EDK2Release{2025, 2},
			SMBIOS: SMBIOSFirmware{Vendor: "Debian distribution of EDK II", Version: "2025.02-8+deb13u1", Date: "11/08/2025"}, SMBIOSKnown: true}, `PcdFirmwareVersionString "2025.02-8+deb13u1" in SmbiosPlatformDxe`},
		// forky's 2026.08 (measure/tdx/testdata, verify/testdata/README.md):
		// BootManagerMenuApp (UI name "BootManagerMenuApp") in the DXE
		// volume next to UiApp, as edk2-stable202505 builds it.
		{"forky", Firmware{UiApp: true, UiAppVolume: dxeFVNameGUID, UiAppName: "UiApp", BootMenuApp: true, BootMenuAppVolume: dxeFVNameGUID, BootMenuAppName: "BootManagerMenuApp", PlatformPei: true, Shell: true, SecureBootSupport: false, CCMeasurement: true, EDK2: EDK2Release{2026, 8},
			SMBIOS: SMBIOSFirmware{Vendor: "Debian distribution of EDK II", Version: "2026.08+ds-2", Date: "09/26/2026"}, SMBIOSKnown: true}, `PcdFirmwareVersionString "2026.08+ds-2" in SmbiosPlatformDxe`},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			img := forkyOVMF(t)
			if tc.file != "forky" {
				img = repoFixture(t, tc.file)
			}
			got, err := InspectFirmware(img)
			if err != nil {
				t.Fatal(err)
			}
			src := got.EDK2Source
			got.EDK2Source = ""
			if *got != tc.want || src != tc.wantFrom {
				t.Errorf("InspectFirmware(%s) = %+v from %q, want %+v from %q", tc.file, *got, src, tc.want, tc.wantFrom)
			}
		})
	}
	if _, err := InspectFirmware(ovmftest.MustTDVFImage(ovmftest.TDVF{Size: 1 << 20, VarStore: true})); err == nil {
		t.Errorf("InspectFirmware(synthetic image without DXE) succeeded, want an error")
	}
}

func TestReleaseVersion(t *testing.T) {
	for s, want := range map[string]bool{
		"2025.02-8+deb13u1": true, "2024.02-2ubuntu0.1": true, "2026.08+ds-2": true, "edk2-stable202411": true, "edk2-stable202408.01": true,
		"02/02/2022": false, "unknown": false, "2025.02": false, "0.0.0": false, "2025.13-1": false,
	} {
		if got := releaseVersion().MatchString(s); got != want {
			t.Errorf("releaseVersion.MatchString(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestMeasureDerivedInputs runs Measure on the Debian images: which inputs
// come from the image, which from the flags, and what that does to the
// RTMRs. The direct boots use a synthetic 6.12 kernel, whose EFI stub
// measures the command line; RTMR1 and RTMR2 are checked against values
// computed here from the definitions (the TCG EV_EFI_ACTION strings, the
// EV_SEPARATOR data, OVMF's LoadOptions), with the kernel's Authenticode
// digest checked against osslsigncode in package tdxtest.
func TestMeasureDerivedInputs(t *testing.T) {
	yes, no := true, false
	acpi := &ACPITables{Loader: make([]byte, 128), Files: map[string][]byte{}}
	kernel := tdxtest.BzImage("6.12.0-tdxtest (tdxtest@example.org) #1 SMP")
	const cmdline = "console=ttyS0"
	kd, err := authenticode.SHA384(kernel)
	if err != nil {
		t.Fatal(err)
	}
	extend := func(digests ...Digest) string {
		var r Digest
		for _, d := range digests {
			r = sha512.Sum384(append(r[:], d[:]...))
		}
		return r.String()
	}
	str := func(s string) Digest { return sha512.Sum384([]byte(s)) }
	// QEMU 10.2 hands the kernel over unpatched; edk2-stable202411 and
	// later measure the ReadyToBoot separator into RTMR1.
	rtmr1 := extend(Digest(kd), str("Calling EFI Application from Boot Option"), str("\x00\x00\x00\x00"),
		str("Exit Boot Services Invocation"), str("Exit Boot Services Returned with Success"))
	// LoadOptions: each byte of the command line as a UCS-2 code unit, NUL-terminated.
	var opts []byte
	for _, c := range []byte(cmdline + "\x00") {
		opts = append(opts, c, 0)
	}
	rtmr2 := extend(sha512.Sum384(opts))
	zero := Digest{}.String()
	tests := []struct {
		name       string
		file       string
		cfg        Config
		wantEDK2   Sourced
		wantSB     string
		wantRTMR0  string // "null", "set" or the value
		wantRTMR1  string
		wantRTMR2  string
		wantReason string
	}{
		{"trixie: release from the image", "trixie-OVMF.fd", Config{ACPI: acpi, Kernel: kernel},
			Sourced{"edk2-stable202502", `image: PcdFirmwareVersionString "2025.02-8+deb13u1" in SmbiosPlatformDxe`}, "false", "set", rtmr1, rtmr2, ""},
		{"trixie: no kernel", "trixie-OVMF.fd", Config{ACPI: acpi},
			Sourced{"edk2-stable202502", `image: PcdFirmwareVersionString "2025.02-8+deb13u1" in SmbiosPlatformDxe`}, "false", "null", "null", "null", noKernelBootVariables},
		{"trixie: flag overrides", "trixie-OVMF.fd", Config{ACPI: acpi, Kernel: kernel, EDK2: EDK2Release{2025, 5}},
			Sourced{"edk2-stable202505", "flag"}, "false", "null", rtmr1, rtmr2, "not modelled"},
		{"trixie: secure boot flag", "trixie-OVMF.fd", Config{ACPI: acpi, Kernel: kernel, SecureBootSupport: &yes},
			Sourced{"edk2-stable202502", `image: PcdFirmwareVersionString "2025.02-8+deb13u1" in SmbiosPlatformDxe`}, "true", "set", rtmr1, rtmr2, ""},
		{"bookworm: no CC measurement, release unknown", "bookworm-OVMF.fd", Config{ACPI: acpi, Kernel: kernel},
			Sourced{"unknown", "unknown: the image carries no PcdFirmwareVersionString naming an edk2 release (SmbiosPlatformDxe, UiApp)"}, "true", "null", zero, zero, "SecTdxHelperLib"},
		{"bookworm: 2022.11 measures nothing", "bookworm-OVMF.fd", Config{ACPI: acpi, Kernel: kernel, EDK2: EDK2Release{2022, 11}, SecureBootSupport: &no},
			Sourced{"edk2-stable202211", "flag"}, "false", zero, zero, zero, ""},
		{"bookworm: 2022.11 measures nothing, no kernel", "bookworm-OVMF.fd", Config{ACPI: acpi, EDK2: EDK2Release{2022, 11}},
			Sourced{"edk2-stable202211", "flag"}, "true", zero, zero, zero, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := ovmf.Parse(repoFixture(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			cfg := tc.cfg
			cfg.QEMU, cfg.Memory, cfg.PageAddOrder = DefaultQEMUVersion, 2<<30, SinglePass
			if cfg.Kernel != nil {
				cfg.Cmdline = cmdline
			}
			res, err := Measure(img, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Derived.EDK2 != tc.wantEDK2 || res.Derived.SecureBootSupport.Value != tc.wantSB {
				t.Errorf("Derived = %+v, want edk2 %+v, secure boot %s", res.Derived, tc.wantEDK2, tc.wantSB)
			}
			for i, want := range []string{tc.wantRTMR0, tc.wantRTMR1, tc.wantRTMR2} {
				got := "null"
				if d := res.RTMRs[i]; d != nil {
					got = d.String()
				}
				if got != want && !(want == "set" && got != "null" && got != zero) {
					t.Errorf("RTMR%d = %s (%s), want %s", i, got, res.Reasons[i], want)
				}
			}
			if !strings.Contains(res.Reasons[0], tc.wantReason) {
				t.Errorf("RTMR0 reason %q, want it to contain %q", res.Reasons[0], tc.wantReason)
			}
			if tc.cfg.Kernel != nil && tc.wantRTMR1 != zero && res.KernelVersion != "6.12.0-tdxtest (tdxtest@example.org) #1 SMP" {
				t.Errorf("KernelVersion = %q, want the synthetic kernel's", res.KernelVersion)
			}
		})
	}
}

// TestSecureBootEvents checks the SecureBoot variable AuthVariableLib
// creates: absent without secure boot support, else 1 with a PK (unless
// SecureBootEnable is 0) and 0 without.
func TestSecureBootEvents(t *testing.T) {
	yes, no := true, false
	pk := varstore.Variable{Vendor: varstore.GlobalVariableGUID, Name: "PK", Data: []byte("pk")}
	off := varstore.Variable{Vendor: varstore.SecureBootEnableGUID, Name: "SecureBootEnable", Data: []byte{0}}
	tests := []struct {
		name    string
		vars    []varstore.Variable
		support *bool
		want    []byte // nil: absent
	}{
		{"unknown, no PK", nil, nil, nil},
		{"unknown, PK", []varstore.Variable{pk}, nil, []byte{1}},
		{"no support, PK", []varstore.Variable{pk}, &no, nil},
		{"support, no PK", nil, &yes, []byte{0}},
		{"support, PK", []varstore.Variable{pk}, &yes, []byte{1}},
		{"support, PK, SecureBootEnable 0", []varstore.Variable{pk, off}, &yes, []byte{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var notes []string
			ev := secureBootEvents(tc.vars, tc.support, &notes)
			want := variableDriverConfigDigest(varstore.GlobalVariableGUID, "SecureBoot", tc.want)
			if ev[0].Digest != want || (tc.want == nil) != strings.Contains(ev[0].Description, "absent") {
				t.Errorf("SecureBoot event = %s %v, want data %v", ev[0].Description, ev[0].Digest, tc.want)
			}
		})
	}
}
