package tdx

import "fmt"

// QEMU fw_cfg items that OVMF caches and measures into RTMR0 from
// edk2-stable202505 on (OvmfPkg/Library/QemuFwCfgLib/QemuFwCfgCacheInit.c,
// mCacheFwCfgList, entries with NeedMeasure TRUE; called from PlatformPei's
// InitializePlatform, commit 81c2c92074). Each present item with a non-zero
// size (and, where the list fixes one, that size) is measured in list order
// with TpmMeasureAndLogData(PCR 1 = RTMR0, EV_PLATFORM_CONFIG_FLAGS): the
// digest is SHA-384 of the item's bytes, the event data a FwCfgEventData.
//
// What QEMU (hw/nvram/fw_cfg.c, hw/i386/pc.c, hw/i386/x86-common.c,
// hw/pci/pci.c; checked in 10.0.13 and 10.2.2) puts there for a q35 TD:
//
//   - etc/extra-pci-roots (8 bytes): only with PCI expander bridges (pxb).
//   - BootMenu (selector 0x000e, 2 bytes): always; 1 with -boot menu=on,
//     else 0.
//   - etc/boot-menu-wait (2 bytes): only with -boot splash-time=N.
//   - etc/reserved-memory-end (8 bytes): only with memory hot-plug
//     (-m ...,maxmem=) or CXL.
//   - opt/ovmf/X-PciMmio64Mb: only with -fw_cfg name=opt/ovmf/X-PciMmio64Mb.
//   - bootorder: the OpenFirmware paths of the devices with a bootindex,
//     '\n'-separated and NUL-terminated; -kernel adds the option ROM
//     linuxboot_dma.bin with bootindex 0 (q35 enables fw_cfg DMA), so a
//     direct boot without other bootindex devices has exactly
//     "/rom@genroms/linuxboot_dma.bin\x00". Empty (not measured) otherwise.
const (
	fwCfgBootMenu  = "BootMenu"
	fwCfgBootOrder = "bootorder"
	// linuxbootBootOrder is QEMU's bootorder file for -kernel: rom_add_file
	// names the option ROM "/rom@genroms/linuxboot_dma.bin".
	linuxbootBootOrder = "/rom@genroms/linuxboot_dma.bin\x00"
)

// measuredFwCfgItems lists, in measuring order, the fw_cfg names of
// mCacheFwCfgList with NeedMeasure TRUE.
var measuredFwCfgItems = []string{
	"etc/extra-pci-roots", fwCfgBootMenu, "etc/boot-menu-wait",
	"etc/reserved-memory-end", "opt/ovmf/X-PciMmio64Mb", fwCfgBootOrder,
}

// Sizes of FW_CFG_EVENT (QemuFwCfgCacheInit.c): the NUL-terminated
// signature and the fw_cfg file name field (QEMU_FW_CFG_FNAME_SIZE).
const (
	fwCfgEventSignature = "QEMU FW CFG\x00"
	fwCfgFileNameSize   = 56
	// FwCfgEventDataSize is the size of the event data of a fw_cfg event.
	FwCfgEventDataSize = len(fwCfgEventSignature) + fwCfgFileNameSize
)

// EVPlatformConfigFlags is the TCG event type of the fw_cfg events
// (EV_PLATFORM_CONFIG_FLAGS, UefiTcgPlatform.h).
const EVPlatformConfigFlags = 0x0000000a

// FwCfgEventData returns the event data OVMF logs with a fw_cfg event:
// FW_CFG_EVENT, "QEMU FW CFG\0" then the item name NUL-padded to 56 bytes.
// The digest does not cover it.
func FwCfgEventData(name string) ([]byte, error) {
	if len(name) >= fwCfgFileNameSize {
		return nil, fmt.Errorf("fw_cfg name %q is %d bytes, want fewer than %d", name, len(name), fwCfgFileNameSize)
	}
	b := make([]byte, FwCfgEventDataSize)
	copy(b, fwCfgEventSignature)
	copy(b[len(fwCfgEventSignature):], name)
	return b, nil
}

// fwCfgItem is one fw_cfg item as QEMU serves it.
type fwCfgItem struct {
	name string
	data []byte
}

// directBootFwCfg returns the measured fw_cfg items QEMU serves a q35 TD
// started with -kernel and no options that add others (see the list
// above): BootMenu 0 and the linuxboot_dma.bin bootorder, in measuring
// order.
func directBootFwCfg() []fwCfgItem {
	return []fwCfgItem{
		{fwCfgBootMenu, []byte{0, 0}},
		{fwCfgBootOrder, []byte(linuxbootBootOrder)},
	}
}

// fwCfgEvents returns the RTMR0 events of items, ordered as
// measuredFwCfgItems and skipping empty ones, as OVMF measures them.
func fwCfgEvents(items []fwCfgItem) []Event {
	var out []Event
	for _, name := range measuredFwCfgItems {
		for _, it := range items {
			if it.name != name || len(it.data) == 0 {
				continue
			}
			out = append(out, Event{RTMR: 0, Kind: EventFwCfg, Digest: sha384(it.data), Description: fmt.Sprintf("QEMU FW CFG: %s (%d bytes)", name, len(it.data))})
		}
	}
	return out
}
