package tdx

import (
	"slices"
	"strings"
	"testing"

	"github.com/measure-cc/measure/measure/tdx/tdxtest"
	"github.com/measure-cc/measure/ovmf"
)

// Digests recorded from the CC event log of a real TD (a dstack 0.5.10 CVM
// with an edk2-stable202505 OvmfPkgX64, QEMU -kernel boot, 2 GiB), as
// Dstack-TEE/dstack commit a304dd96 (dstack-mr/src/tdvf.rs, Apache-2.0)
// keeps them: "digests come from a 0.5.10 CVM's actual event log ...
// Verified end-to-end against a 0.5.10 CVM: all four measurements (MRTD,
// RTMR[0-2]) match the quote exactly" (verify/testdata/README.md). The
// firmware is not Debian's, but the CFV (an empty variable store) and the
// boot options' volume and file GUIDs and names are the same.
const (
	dstackCFV       = "344bc51c980ba621aaa00da3ed7436f7d6e549197dfe699515dfa2c6583d95e6412af21c097d473155875ffd561d6790"
	dstackBootOrder = "53d3dbc00691328371e74c1b1c77bdf1bf4ff79dd1b55222b694fe8341cd8b0adb3a9ab9286552c681272883b9b0fc1d" // fw_cfg bootorder
	dstackBootVar   = "52b9a02de946b947364b57d8210c63113b9058996e2a3ba7cead54af11ae0873b085d1e52bc01e4febe57ca05ca1332b" // BootOrder variable
	dstackBoot0000  = "5068e6a9ded2a1c3a8ebb5d26004410ea8670742d8f444c5c3d161b76c66fa23a7b1d2fb3f9840570b675384b5818f2d"
	dstackBoot0001  = "dd424f2eeb35f3e8a2c2f50f6cc87ff90b7577e92ce63e13a22869d07d104fd5ea9800e6e4f12c5058fc4eaa78374f20"
)

// dstackLayout is the order of the 17 RTMR0 events of that log.
var dstackLayout = []EventKind{
	EventTDHOB, EventCFV, EventFwCfg, EventFwCfg,
	EventEFIVariable, EventEFIVariable, EventEFIVariable, EventEFIVariable, EventEFIVariable,
	EventSeparator, EventACPILoader, EventACPIRSDP, EventACPITables,
	EventSMBIOS, EventBootVariable, EventBootVariable, EventBootVariable,
}

func measureForky(t *testing.T, cfg Config) *Result {
	t.Helper()
	img, err := ovmf.Parse(forkyOVMF(t))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PageAddOrder == 0 {
		cfg.PageAddOrder = SinglePass
	}
	if cfg.QEMU == (QEMUVersion{}) {
		cfg.QEMU = DefaultQEMUVersion
	}
	res, err := Measure(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestRTMR0Stable202505RecordedLog checks the predicted RTMR0 events of
// Debian forky's OVMF (2026.08, read from the image as edk2-stable202608)
// against the recorded log: the event order, and every digest that does
// not depend on the VM's devices or the host (the fw_cfg bootorder, the
// CFV, BootOrder, Boot0000, Boot0001). The BootMenu fw_cfg digest is
// SHA-384 of QEMU's 2-byte value 0 (hw/nvram/fw_cfg.c), which the log's
// consumer computes the same way.
func TestRTMR0Stable202505RecordedLog(t *testing.T) {
	id := uint64(0xbfebfbff000806f8)
	acpi := &ACPITables{Loader: make([]byte, 128), Files: map[string][]byte{}}
	res := measureForky(t, Config{Memory: 2 << 30, Kernel: tdxtest.BzImage("6.12.0-tdxtest (tdxtest@example.org) #1 SMP"), ACPI: acpi, SMBIOSProcessorID: &id})
	var kinds []EventKind
	var rtmr0 []Event
	for _, e := range res.Events {
		if e.RTMR == 0 {
			kinds = append(kinds, e.Kind)
			rtmr0 = append(rtmr0, e)
		}
	}
	// The synthetic loader script allocates no blob, so RSDP and tables
	// are missing: compare the layout without them.
	want := slices.DeleteFunc(slices.Clone(dstackLayout), func(k EventKind) bool { return k == EventACPIRSDP || k == EventACPITables })
	if !slices.Equal(kinds, want) {
		t.Fatalf("RTMR0 event kinds = %v, want %v", kinds, want)
	}
	for i, want := range map[int]string{1: dstackCFV, 3: dstackBootOrder, 12: dstackBootVar, 13: dstackBoot0000, 14: dstackBoot0001} {
		if got := rtmr0[i].Digest.String(); got != want {
			t.Errorf("RTMR0 event %d (%s) digest = %s, want %s (recorded)", i, rtmr0[i].Description, got, want)
		}
	}
	if got, want := rtmr0[2].Digest, sha384([]byte{0, 0}); got != want {
		t.Errorf("fw_cfg BootMenu digest = %s, want %s", got, want)
	}
	if res.RTMRs[0] != nil || !strings.Contains(res.Reasons[0], "no recorded event log or independent value confirms") {
		t.Errorf("RTMR0 = %v (%q), want null until the SMBIOS event is confirmed", res.RTMRs[0], res.Reasons[0])
	}
	if res.Derived.EDK2.Value != "edk2-stable202608" {
		t.Errorf("edk2 release = %s, want edk2-stable202608", res.Derived.EDK2.Value)
	}
}

// TestRTMR0Stable202505Reasons checks what keeps RTMR0 null and which
// events are still listed.
func TestRTMR0Stable202505Reasons(t *testing.T) {
	kernel := tdxtest.BzImage("6.12.0-tdxtest (tdxtest@example.org) #1 SMP")
	tests := []struct {
		name       string
		cfg        Config
		wantReason string
		wantKind   EventKind
		wantListed bool
	}{
		{"no processor ID", Config{Memory: 2 << 30, Kernel: kernel}, "--smbios-processor-id", EventSMBIOS, false},
		{"no kernel", Config{Memory: 2 << 30}, "no --kernel", EventBootVariable, false},
		{"machine too old", Config{Memory: 2 << 30, Kernel: kernel, Machine: QEMUVersion{6, 2}, SMBIOSProcessorID: new(uint64)}, "pc-q35-6.2", EventSMBIOS, false},
		{"kernel: boot options listed", Config{Memory: 2 << 30, Kernel: kernel}, "(--acpi-tables)", EventBootVariable, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := measureForky(t, tc.cfg)
			if res.RTMRs[0] != nil || !strings.Contains(res.Reasons[0], tc.wantReason) {
				t.Errorf("RTMR0 = %v, reason %q, want null with %q", res.RTMRs[0], res.Reasons[0], tc.wantReason)
			}
			listed := slices.ContainsFunc(res.Events, func(e Event) bool { return e.Kind == tc.wantKind })
			if listed != tc.wantListed {
				t.Errorf("%s event listed = %v, want %v", tc.wantKind, listed, tc.wantListed)
			}
		})
	}
}
