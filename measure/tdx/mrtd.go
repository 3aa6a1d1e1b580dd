package tdx

import (
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"hash"
	"strings"

	"github.com/measure-cc/measure/ovmf"
)

// Extension buffers of the TDX module's build-time measurement (Intel TDX
// Module Base Architecture Specification, TDH.MEM.PAGE.ADD and TDH.MR.EXTEND:
// "Extension is done using SHA384 with a 128B extension buffer").
const (
	// ExtensionBufferSize is the size of one MRTD extension buffer.
	ExtensionBufferSize = 128
	// MRExtendChunkSize is the granule of TDH.MR.EXTEND.
	MRExtendChunkSize = 256

	extLabelSize   = 16 // the ASCII label, zero padded
	extGPAOffset   = 16 // the GPA, uint64 little-endian
	pageAddLabel   = "MEM.PAGE.ADD"
	mrExtendLabel  = "MR.EXTEND"
	chunksPerPage  = ovmf.PageSize / MRExtendChunkSize
	extendedPerPag = chunksPerPage * (ExtensionBufferSize + MRExtendChunkSize)
)

// MaxMeasuredMemory bounds the memory the TDVF sections may add with
// TDH.MEM.PAGE.ADD: real images add a few MiB, and the bound keeps hostile
// metadata from hashing for hours.
const MaxMeasuredMemory = 1 << 30

// PageAddOrder is the order in which the VMM adds and measures the pages of
// a TDVF section. Both orders give the same memory but different MRTDs.
type PageAddOrder int

// Page-add orders.
const (
	// SinglePass adds a page, then extends its 16 chunks, page by page
	// (KVM_TDX_INIT_MEM_REGION in upstream KVM, QEMU >= 9).
	SinglePass PageAddOrder = iota
	// TwoPass adds every page of a section, then extends all of them (the
	// QEMU 8.x out-of-tree TDX stacks).
	TwoPass
)

// String returns "single-pass" or "two-pass".
func (o PageAddOrder) String() string {
	switch o {
	case SinglePass:
		return "single-pass"
	case TwoPass:
		return "two-pass"
	}
	return fmt.Sprintf("PageAddOrder(%d)", int(o))
}

// MarshalText implements encoding.TextMarshaler.
func (o PageAddOrder) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// ParsePageAddOrder parses "single-pass" or "two-pass".
func ParsePageAddOrder(s string) (PageAddOrder, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "single-pass":
		return SinglePass, nil
	case "two-pass":
		return TwoPass, nil
	}
	return 0, fmt.Errorf("page-add order %q, want single-pass or two-pass", s)
}

// pageAddBuffer is the extension buffer of TDH.MEM.PAGE.ADD for gpa.
func pageAddBuffer(b *[ExtensionBufferSize]byte, gpa uint64) {
	*b = [ExtensionBufferSize]byte{}
	copy(b[:extLabelSize], pageAddLabel)
	binary.LittleEndian.PutUint64(b[extGPAOffset:], gpa)
}

// mrExtendBuffer is the first extension buffer of TDH.MR.EXTEND for the
// chunk at gpa; the chunk's 256 bytes follow it.
func mrExtendBuffer(b []byte, gpa uint64) {
	clear(b[:ExtensionBufferSize])
	copy(b[:extLabelSize], mrExtendLabel)
	binary.LittleEndian.PutUint64(b[extGPAOffset:], gpa)
}

// mrtd accumulates the MRTD hash stream.
type mrtd struct {
	h    hash.Hash
	add  [ExtensionBufferSize]byte
	page [extendedPerPag]byte
}

func (m *mrtd) pageAdd(gpa uint64) {
	pageAddBuffer(&m.add, gpa)
	m.h.Write(m.add[:])
}

// extend measures one page: 16 x (MR.EXTEND buffer, 256 bytes of content),
// written to the hash in one call. content is nil for a zero page.
func (m *mrtd) extend(gpa uint64, content []byte) {
	const step = ExtensionBufferSize + MRExtendChunkSize
	for i := 0; i < chunksPerPage; i++ {
		rec := m.page[i*step : (i+1)*step]
		mrExtendBuffer(rec, gpa+uint64(i*MRExtendChunkSize))
		chunk := rec[ExtensionBufferSize:]
		if content != nil {
			copy(chunk, content[i*MRExtendChunkSize:])
		} else {
			clear(chunk)
		}
	}
	m.h.Write(m.page[:])
}

// MRTD returns the MRTD of a TD built from image as its TDVF metadata md
// directs: for each section in order, TDH.MEM.PAGE.ADD for each page (unless
// the section has PAGE.AUG) and, for sections with MR.EXTEND, TDH.MR.EXTEND
// of each 256-byte chunk, in the given page-add order.
//
// hob is the TD HOB the VMM writes into the TD_HOB section (TDHOB.Marshal).
// A section with MR.EXTEND is measured with its content as the VMM leaves
// it in guest memory (Intel TDX Virtual Firmware Design Guide, "TDVF
// Metadata": TDVF_SECTION.Attributes bit 0, MR.EXTEND; edk2
// OvmfPkg/ResetVector/X64/IntelTdxMetadata.asm: the VMM passes the memory
// map by writing it into the TdHob section). QEMU target/i386/kvm/tdx.c
// tdx_finalize_vm writes the HOB (tdvf_hob_create) before it adds every
// section with KVM_TDX_INIT_MEM_REGION, KVM_TDX_MEASURE_MEMORY_REGION when
// the section has MR.EXTEND. So for a TD_HOB section with MR.EXTEND hob is
// required; without the attribute it is not read. MeasureMRTD builds the
// HOB QEMU writes: use it unless you have the HOB itself.
func MRTD(image []byte, md *ovmf.TDVFMetadata, order PageAddOrder, hob []byte) (Digest, error) {
	if order != SinglePass && order != TwoPass {
		return Digest{}, fmt.Errorf("page-add order %d is unknown", int(order))
	}
	if err := md.Validate(int64(len(image))); err != nil {
		return Digest{}, err
	}
	var total uint64
	for _, s := range md.Sections {
		if s.Attributes&ovmf.TDVFAttrPageAug == 0 {
			total += s.MemoryDataSize // each is below 2^52: no overflow
		}
		if s.Type == ovmf.TDVFSectionTDHOB && s.Attributes&ovmf.TDVFAttrMRExtend != 0 && s.Attributes&ovmf.TDVFAttrPageAug == 0 && hob == nil {
			return Digest{}, fmt.Errorf("TDVF metadata at %#x: the TD_HOB section at %#x has MR.EXTEND, so MRTD covers the TD HOB the VMM writes, and none was given", md.Offset, s.MemoryAddress)
		}
	}
	if total > MaxMeasuredMemory {
		return Digest{}, fmt.Errorf("TDVF metadata at %#x: sections add %d MiB of measured memory, more than the %d MiB a TDVF uses", md.Offset, total>>20, MaxMeasuredMemory>>20)
	}
	m := &mrtd{h: sha512.New384()}
	for _, s := range md.Sections {
		if s.Attributes&ovmf.TDVFAttrPageAug != 0 {
			// TDH.MEM.PAGE.AUG adds pages without measuring them.
			continue
		}
		pages := s.MemoryDataSize / ovmf.PageSize
		content := func(p uint64) []byte {
			switch {
			case s.HasData():
				off := uint64(s.DataOffset) + p*ovmf.PageSize
				return image[off : off+ovmf.PageSize]
			case s.Type == ovmf.TDVFSectionTDHOB:
				off := p * ovmf.PageSize
				if off >= uint64(len(hob)) {
					return nil
				}
				var pg [ovmf.PageSize]byte
				copy(pg[:], hob[off:])
				return pg[:]
			}
			return nil
		}
		extend := s.Attributes&ovmf.TDVFAttrMRExtend != 0
		switch {
		case !extend:
			for p := uint64(0); p < pages; p++ {
				m.pageAdd(s.MemoryAddress + p*ovmf.PageSize)
			}
		case order == SinglePass:
			for p := uint64(0); p < pages; p++ {
				gpa := s.MemoryAddress + p*ovmf.PageSize
				m.pageAdd(gpa)
				m.extend(gpa, content(p))
			}
		default:
			for p := uint64(0); p < pages; p++ {
				m.pageAdd(s.MemoryAddress + p*ovmf.PageSize)
			}
			for p := uint64(0); p < pages; p++ {
				m.extend(s.MemoryAddress+p*ovmf.PageSize, content(p))
			}
		}
	}
	var d Digest
	m.h.Sum(d[:0])
	return d, nil
}
