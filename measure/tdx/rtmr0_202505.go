package tdx

import (
	"fmt"

	"github.com/measure-cc/measure/ovmf/varstore"
)

// The RTMR0 events edk2-stable202505 and later add to a QEMU direct boot
// of OvmfPkgX64, in the order a recorded event log of such a TD shows them
// (Dstack-TEE/dstack a304dd96, docs/tdx.md): TD HOB, CFV, the fw_cfg
// items, the secure boot policy and separator, the ACPI data, the SMBIOS
// table, then BootOrder, Boot0000 and Boot0001.

// efiFirmwareSetup is the description OvmfPkg's PlatformBootManagerLib
// gives UiApp's boot option (BdsPlatform.c, commit d433b4c8e4), registered
// unless fw_cfg opt/org.tianocore/FirmwareSetupSupport says no.
const efiFirmwareSetup = "EFI Firmware Setup"

// fwCfg202505 adds the fw_cfg events PlatformPei measures after the CFV.
func (r *Result) fwCfg202505(cfg Config, fw *Firmware, notComputable func(int, string)) {
	if fw != nil && !fw.PlatformPei {
		notComputable(0, "the image has no PlatformPei (a PEI-less IntelTdxX64 build, which measures QEMU's fw_cfg items in SEC): not modelled")
		return
	}
	if cfg.Kernel == nil {
		// BootMenu is measured in any boot; bootorder depends on the
		// devices with a bootindex, and RTMR0 is not computable anyway.
		r.Events = append(r.Events, fwCfgEvents(directBootFwCfg()[:1])...)
		return
	}
	r.Events = append(r.Events, fwCfgEvents(directBootFwCfg())...)
	r.Notes = append(r.Notes, "fw_cfg events assume QEMU options that add no measured fw_cfg item: no -boot menu=on or splash-time, no bootindex on a device, no maxmem or CXL, no pxb bridge, no -fw_cfg opt/ovmf/X-PciMmio64Mb")
}

// smbios202505 adds the SMBIOS event SmbiosMeasurementDxe records at
// ReadyToBoot, after the ACPI data.
func (r *Result) smbios202505(cfg Config, fw *Firmware, notComputable func(int, string)) {
	machine := cfg.Machine
	if machine == (QEMUVersion{}) {
		machine = cfg.QEMU
	}
	smp := cfg.SMP
	if smp == (SMP{}) {
		smp = DefaultSMP
	}
	switch {
	case cfg.SMBIOSProcessorID == nil:
		notComputable(0, "the SMBIOS event depends on the Processor ID QEMU writes into SMBIOS type 4 (CPUID leaf 1 EAX and EDX of the vCPU model; with -cpu host, of the host CPU), which is not given (--smbios-processor-id, as dmidecode -t 4 prints it)")
		return
	case fw == nil:
		notComputable(0, "the image's DXE volume cannot be read, so the SMBIOS type 0 strings OVMF adds are unknown")
		return
	case !fw.SMBIOSKnown:
		notComputable(0, "the SMBIOS type 0 strings compiled into SmbiosPlatformDxe (vendor, version, release date) cannot be told apart")
		return
	}
	q := QEMUSMBIOS{Machine: machine, Memory: cfg.Memory, SMP: smp, ProcessorID: *cfg.SMBIOSProcessorID}
	tables, err := q.Tables()
	if err == nil {
		tables, err = OVMFSMBIOSTable(tables, fw.SMBIOS)
	}
	var d Digest
	if err == nil {
		d, err = SMBIOSDigest(tables)
	}
	if err != nil {
		notComputable(0, "SMBIOS event: "+err.Error())
		return
	}
	r.Events = append(r.Events, Event{RTMR: 0, Kind: EventSMBIOS, Digest: d,
		Description: fmt.Sprintf("EV_EFI_HANDOFF_TABLES: SMBIOS table of %d bytes (machine %s, %d MiB, -smp %s, processor ID %016x), filtered", len(tables), q.MachineName(), cfg.Memory>>20, smp, q.ProcessorID)})
}

// bootOptions202505 adds the boot variables: BootManagerMenuApp as
// Boot0000 (hidden, PcdBootManagerMenuFile, commit 9d9e3a2ba8) and UiApp
// as Boot0001 "EFI Firmware Setup" (active, commit d433b4c8e4), BootOrder
// 0000,0001. As before 202505, -kernel boots before the shell's option is
// registered.
func (r *Result) bootOptions202505(cfg Config, fw *Firmware, vars []varstore.Variable, notComputable func(int, string)) {
	switch {
	case cfg.Kernel == nil:
		return // noKernelBootVariables
	case fw == nil:
		notComputable(0, "the image's DXE volume cannot be read, so the volumes and names of BootManagerMenuApp and UiApp in Boot0000 and Boot0001 are unknown")
		return
	case !fw.BootMenuApp || fw.BootMenuAppName == "" || !fw.UiApp:
		notComputable(0, "the image lacks BootManagerMenuApp (with a UI name) or UiApp, which edk2-stable202505 registers as Boot0000 and Boot0001: not modelled")
		return
	}
	if _, ok := varstore.Lookup(vars, varstore.GlobalVariableGUID, "BootOrder"); ok {
		notComputable(0, "the variable store already holds BootOrder: the boot variables at boot depend on its history")
		return
	}
	r.Events = append(r.Events,
		Event{RTMR: 0, Kind: EventBootVariable, Digest: sha384([]byte{0, 0, 1, 0}), Description: "BootOrder: 0000,0001"},
		Event{RTMR: 0, Kind: EventBootVariable, Digest: sha384(fvLoadOption(loadOptionActive|loadOptionHidden|loadOptionCategoryApp, fw.BootMenuAppName, fw.BootMenuAppVolume, bootManagerMenuApp)),
			Description: fmt.Sprintf("Boot0000: %s (boot manager menu), Fv(%s)/FvFile(%s)", fw.BootMenuAppName, fw.BootMenuAppVolume, bootManagerMenuApp)},
		Event{RTMR: 0, Kind: EventBootVariable, Digest: sha384(fvLoadOption(loadOptionActive|loadOptionCategoryApp, efiFirmwareSetup, fw.UiAppVolume, uiAppFileGUID)),
			Description: fmt.Sprintf("Boot0001: %s, Fv(%s)/FvFile(%s)", efiFirmwareSetup, fw.UiAppVolume, uiAppFileGUID)},
	)
	r.Notes = append(r.Notes, "Boot0001 (\"EFI Firmware Setup\") assumes no -fw_cfg opt/org.tianocore/FirmwareSetupSupport=no")
	if fw.Shell {
		r.Notes = append(r.Notes, "the image carries the UEFI Shell; OVMF registers its boot option only after it boots -kernel, so it is not measured (it is with a persistent variable store or without -kernel)")
	}
}
