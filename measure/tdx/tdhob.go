package tdx

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/measure-cc/measure/ovmf"
)

// HOB structures (UEFI Platform Initialization Specification, volume 3,
// section 5: EFI_HOB_GENERIC_HEADER, EFI_HOB_HANDOFF_INFO_TABLE,
// EFI_HOB_RESOURCE_DESCRIPTOR), as QEMU's hw/i386/tdvf-hob.c fills them.
type (
	// HOBGenericHeader is EFI_HOB_GENERIC_HEADER.
	HOBGenericHeader struct {
		HobType   uint16
		HobLength uint16
		Reserved  uint32
	}

	// HOBHandoffInfoTable is EFI_HOB_HANDOFF_INFO_TABLE, the first HOB.
	HOBHandoffInfoTable struct {
		Header              HOBGenericHeader
		Version             uint32
		BootMode            uint32
		EfiMemoryTop        uint64
		EfiMemoryBottom     uint64
		EfiFreeMemoryTop    uint64
		EfiFreeMemoryBottom uint64
		EfiEndOfHobList     uint64 // guest address just past the end-of-list HOB
	}

	// HOBResourceDescriptor is EFI_HOB_RESOURCE_DESCRIPTOR: one RAM range.
	HOBResourceDescriptor struct {
		Header            HOBGenericHeader
		Owner             [16]byte // EFI_GUID, zero
		ResourceType      uint32
		ResourceAttribute uint32
		PhysicalStart     uint64
		ResourceLength    uint64
	}
)

// HOB constants (PI spec volume 3; MdePkg/Include/Pi/PiHob.h).
const (
	hobTypeHandoff            = 0x0001
	hobTypeResourceDescriptor = 0x0003
	hobTypeEndOfHOBList       = 0xffff
	hobHandoffTableVersion    = 0x0009

	// ResourceSystemMemory is EFI_RESOURCE_SYSTEM_MEMORY: RAM the VMM added
	// (TDH.MEM.PAGE.ADD) and so already accepted.
	ResourceSystemMemory = 0x00000000
	// ResourceMemoryUnaccepted is EFI_RESOURCE_MEMORY_UNACCEPTED: RAM the
	// guest accepts itself.
	ResourceMemoryUnaccepted = 0x00000007
	// resourceAttrTDVF is PRESENT | INITIALIZED | TESTED, QEMU's
	// EFI_RESOURCE_ATTRIBUTE_TDVF_PRIVATE and _TDVF_UNACCEPTED.
	resourceAttrTDVF = 0x00000007

	hobGenericHeaderSize        = 8  // binary.Size(HOBGenericHeader{})
	hobHandoffSize              = 56 // binary.Size(HOBHandoffInfoTable{})
	hobResourceDescSize         = 48 // binary.Size(HOBResourceDescriptor{})
	hobAlign                    = 8
	fourGiB              uint64 = 1 << 32
)

// RAMRange is a range of guest RAM and whether the VMM added it before the
// TD ran (accepted) or left it to the guest (unaccepted).
type RAMRange struct {
	Start, Length uint64
	Accepted      bool
}

// Q35RAM returns QEMU's E820 RAM for a q35 machine with memory bytes of RAM
// (hw/i386/pc_q35.c): below 4 GiB up to 2.75 GiB, or 2 GiB and the rest
// above 4 GiB once memory reaches 2.75 GiB.
func Q35RAM(memory uint64) []RAMRange {
	lowmem := uint64(0xb0000000)
	if memory >= 0xb0000000 {
		lowmem = 0x80000000
	}
	if memory < lowmem {
		return []RAMRange{{Start: 0, Length: memory}}
	}
	r := []RAMRange{{Start: 0, Length: lowmem}}
	if memory > lowmem {
		r = append(r, RAMRange{Start: fourGiB, Length: memory - lowmem})
	}
	return r
}

// TDRAM returns the RAM ranges QEMU describes in the TD HOB
// (target/i386/kvm/tdx.c, tdx_finalize_vm): the E820 RAM, with the TD_HOB
// and TempMem sections carved out as accepted ranges, sorted by address.
func TDRAM(md *ovmf.TDVFMetadata, ram []RAMRange) ([]RAMRange, error) {
	entries := slices.Clone(ram)
	for i, s := range md.Sections {
		switch s.Type {
		case ovmf.TDVFSectionBFV, ovmf.TDVFSectionCFV:
			continue
		case ovmf.TDVFSectionTDHOB, ovmf.TDVFSectionTempMem:
		default:
			return nil, fmt.Errorf("TDVF section %d: type %s, which QEMU does not support (it accepts BFV, CFV, TD_HOB and TempMem)", i, s.Type)
		}
		var err error
		if entries, err = acceptRAM(entries, s.MemoryAddress, s.MemoryDataSize); err != nil {
			return nil, fmt.Errorf("TDVF section %d (%s, %#x+%#x): %w", i, s.Type, s.MemoryAddress, s.MemoryDataSize, err)
		}
	}
	slices.SortStableFunc(entries, func(a, b RAMRange) int { return cmp.Compare(a.Start, b.Start) })
	return entries, nil
}

// acceptRAM is QEMU's tdx_accept_ram_range: the range must lie inside one
// RAM entry; an unaccepted entry is split into head, range and tail, with
// head and tail appended at the end.
func acceptRAM(entries []RAMRange, addr, length uint64) ([]RAMRange, error) {
	for i := range entries {
		e := &entries[i]
		if addr+length <= e.Start || addr >= e.Start+e.Length {
			continue
		}
		if e.Start > addr || e.Start+e.Length < addr+length {
			return nil, fmt.Errorf("not inside one RAM range (%#x+%#x): more memory needed", e.Start, e.Length)
		}
		if e.Accepted {
			return entries, nil
		}
		old := *e
		*e = RAMRange{Start: addr, Length: length, Accepted: true}
		if head := addr - old.Start; head > 0 {
			entries = append(entries, RAMRange{Start: old.Start, Length: head})
		}
		if tail := addr + length; tail < old.Start+old.Length {
			entries = append(entries, RAMRange{Start: tail, Length: old.Start + old.Length - tail})
		}
		return entries, nil
	}
	return nil, fmt.Errorf("outside guest RAM: more memory needed")
}

// TDHOB is the TD HOB QEMU writes into the TD_HOB section
// (hw/i386/tdvf-hob.c): a handoff table, one resource descriptor per RAM
// range, and an end-of-list HOB.
type TDHOB struct {
	// Address is the guest physical address of the TD_HOB section.
	Address uint64
	// Size is the size of the TD_HOB section.
	Size      uint64
	Handoff   HOBHandoffInfoTable
	Resources []HOBResourceDescriptor
}

// NewTDHOB builds the TD HOB for the TD_HOB section of md and the RAM ranges
// from TDRAM.
func NewTDHOB(md *ovmf.TDVFMetadata, ram []RAMRange) (*TDHOB, error) {
	sec, ok := md.Section(ovmf.TDVFSectionTDHOB)
	if !ok {
		return nil, fmt.Errorf("TDVF metadata at %#x has no TD_HOB section: QEMU refuses to start the TD", md.Offset)
	}
	h := &TDHOB{Address: sec.MemoryAddress, Size: sec.MemoryDataSize}
	for _, r := range ram {
		typ := uint32(ResourceMemoryUnaccepted)
		if r.Accepted {
			typ = ResourceSystemMemory
		}
		h.Resources = append(h.Resources, HOBResourceDescriptor{
			Header:            HOBGenericHeader{HobType: hobTypeResourceDescriptor, HobLength: hobResourceDescSize},
			ResourceType:      typ,
			ResourceAttribute: resourceAttrTDVF,
			PhysicalStart:     r.Start,
			ResourceLength:    r.Length,
		})
	}
	total := uint64(hobHandoffSize + len(h.Resources)*hobResourceDescSize + hobGenericHeaderSize)
	if total > h.Size {
		return nil, fmt.Errorf("TD HOB of %d bytes does not fit the %d-byte TD_HOB section at %#x", total, h.Size, h.Address)
	}
	h.Handoff = HOBHandoffInfoTable{
		Header:          HOBGenericHeader{HobType: hobTypeHandoff, HobLength: hobHandoffSize},
		Version:         hobHandoffTableVersion,
		EfiEndOfHobList: h.Address + total,
	}
	return h, nil
}

// Marshal returns the HOB list as QEMU writes it, end-of-list HOB included.
// (Every structure is a multiple of 8 bytes, so QEMU's 8-byte alignment adds
// no padding.)
func (h *TDHOB) Marshal() []byte {
	out := h.Measured()
	out, _ = binary.Append(out, binary.LittleEndian, HOBGenericHeader{HobType: hobTypeEndOfHOBList, HobLength: hobGenericHeaderSize})
	return out
}

// Measured returns the bytes OVMF measures into RTMR0 (edk2
// OvmfPkg/IntelTdx/TdxHelperLib/SecTdxHelper.c, TdxHelperMeasureTdHob): the
// HOB list up to, not including, the end-of-list HOB.
func (h *TDHOB) Measured() []byte {
	out := make([]byte, 0, hobHandoffSize+len(h.Resources)*hobResourceDescSize+hobGenericHeaderSize)
	// Appending fixed-size values to a slice cannot fail.
	out, _ = binary.Append(out, binary.LittleEndian, &h.Handoff)
	out, _ = binary.Append(out, binary.LittleEndian, h.Resources)
	return out
}

// ParseTDHOB is the inverse of Marshal: it reads a HOB list written at
// address into a TD_HOB section of size bytes.
func ParseTDHOB(b []byte, address, size uint64) (*TDHOB, error) {
	h := &TDHOB{Address: address, Size: size}
	if len(b) < hobHandoffSize {
		return nil, fmt.Errorf("TD HOB at %#x: %d bytes, want at least %d", address, len(b), hobHandoffSize)
	}
	if _, err := binary.Decode(b, binary.LittleEndian, &h.Handoff); err != nil {
		return nil, fmt.Errorf("TD HOB at %#x: %w", address, err)
	}
	if hd := h.Handoff.Header; hd.HobType != hobTypeHandoff || hd.HobLength != hobHandoffSize {
		return nil, fmt.Errorf("TD HOB at %#x: first HOB type %#x length %d, want handoff (%#x) of %d", address, hd.HobType, hd.HobLength, hobTypeHandoff, hobHandoffSize)
	}
	for off := hobHandoffSize; ; {
		var hd HOBGenericHeader
		if off+hobGenericHeaderSize > len(b) {
			return nil, fmt.Errorf("TD HOB at %#x: no end-of-list HOB in %d bytes", address, len(b))
		}
		if _, err := binary.Decode(b[off:], binary.LittleEndian, &hd); err != nil {
			return nil, err
		}
		switch {
		case hd.HobType == hobTypeEndOfHOBList:
			if want := address + uint64(off+hobGenericHeaderSize); h.Handoff.EfiEndOfHobList != want {
				return nil, fmt.Errorf("TD HOB at %#x: EfiEndOfHobList %#x, want %#x", address, h.Handoff.EfiEndOfHobList, want)
			}
			return h, nil
		case hd.HobType == hobTypeResourceDescriptor && hd.HobLength == hobResourceDescSize && off+hobResourceDescSize <= len(b):
			var r HOBResourceDescriptor
			if _, err := binary.Decode(b[off:], binary.LittleEndian, &r); err != nil {
				return nil, err
			}
			h.Resources = append(h.Resources, r)
			off += hobResourceDescSize
		default:
			return nil, fmt.Errorf("TD HOB at %#x: HOB at offset %#x has type %#x length %d, want a resource descriptor (%#x) of %d or the end of the list", address, off, hd.HobType, hd.HobLength, hobTypeResourceDescriptor, hobResourceDescSize)
		}
	}
}
