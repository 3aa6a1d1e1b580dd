package snp

import (
	"crypto/sha512"
	"encoding/binary"
)

// SegmentRegister is a VMCB segment register (AMD64 APM Vol. 2, Table B-2;
// struct vmcb_seg in Linux).
type SegmentRegister struct {
	Selector uint16
	Attrib   uint16
	Limit    uint32
	Base     uint64
}

// VMSA is the SEV-ES/SEV-SNP VM save area, one 4 KiB page per vCPU (AMD64
// APM Vol. 2, Table B-4 "VMSA Layout, State Save Area for SEV-ES"; struct
// sev_es_save_area in Linux arch/x86/include/asm/svm.h). Field offsets are
// asserted in vmsa_test.go.
type VMSA struct {
	ES, CS, SS, DS, FS, GS         SegmentRegister // 0x000
	GDTR, LDTR, IDTR, TR           SegmentRegister // 0x060
	VMPL0SSP, VMPL1SSP             uint64          // 0x0a0
	VMPL2SSP, VMPL3SSP             uint64          // 0x0b0
	UCET                           uint64          // 0x0c0
	_                              [2]byte         // 0x0c8
	VMPL                           uint8           // 0x0ca
	CPL                            uint8           // 0x0cb
	_                              [4]byte         // 0x0cc
	EFER                           uint64          // 0x0d0
	_                              [104]byte       // 0x0d8
	XSS, CR4, CR3, CR0             uint64          // 0x140
	DR7, DR6, RFLAGS, RIP          uint64          // 0x160
	DR0, DR1, DR2, DR3             uint64          // 0x180
	DR0AddrMask, DR1AddrMask       uint64          // 0x1a0
	DR2AddrMask, DR3AddrMask       uint64          // 0x1b0
	_                              [24]byte        // 0x1c0
	RSP, SCET, SSP, ISSTAddr       uint64          // 0x1d8
	RAX, STAR, LSTAR, CSTAR        uint64          // 0x1f8
	SFMASK, KernelGSBase           uint64          // 0x218
	SysenterCS, SysenterESP        uint64          // 0x228
	SysenterEIP, CR2               uint64          // 0x238
	_                              [32]byte        // 0x248
	GPAT, DbgCtl, BrFrom, BrTo     uint64          // 0x268
	LastExcpFrom, LastExcpTo       uint64          // 0x288
	_                              [80]byte        // 0x298
	PKRU, TSCAux                   uint32          // 0x2e8
	_                              [24]byte        // 0x2f0
	RCX, RDX, RBX                  uint64          // 0x308
	_                              uint64          // 0x320
	RBP, RSI, RDI                  uint64          // 0x328
	R8, R9, R10, R11               uint64          // 0x340
	R12, R13, R14, R15             uint64          // 0x360
	_                              [16]byte        // 0x380
	GuestExitInfo1, GuestExitInfo2 uint64          // 0x390
	GuestExitIntInfo, GuestNRIP    uint64          // 0x3a0
	SEVFeatures, VIntrCtrl         uint64          // 0x3b0
	GuestExitCode, VirtualTOM      uint64          // 0x3c0
	TLBID, PCPUID, EventInj, XCR0  uint64          // 0x3d0
	_                              [16]byte        // 0x3f0
	X87DP                          uint64          // 0x400
	MXCSR                          uint32          // 0x408
	X87FTW, X87FSW, X87FCW         uint16          // 0x40c
	X87FOP, X87DS, X87CS           uint16          // 0x412
	X87RIP                         uint64          // 0x418
	FPRegX87                       [80]byte        // 0x420
	FPRegXMM                       [256]byte       // 0x470
	FPRegYMM                       [256]byte       // 0x570
	_                              [2448]byte      // 0x670, to the end of the page
}

// Marshal returns the 4 KiB page.
func (v *VMSA) Marshal() []byte {
	b := make([]byte, 0, pageSize)
	b, err := binary.Append(b, binary.LittleEndian, v)
	if err != nil || len(b) != pageSize {
		// VMSA is fixed-size; vmsa_test.go asserts binary.Size(VMSA{}) == 4096.
		panic("snp: VMSA does not marshal to 4096 bytes")
	}
	return b
}

// Reset-state values common to every profile. QEMU's come from KVM's vCPU
// reset (x86/kvm/svm and QEMU target/i386/cpu.c x86_cpu_reset_hold); the
// values in which VMMs and host generations differ are in the profiles
// table (profile.go).
const (
	bspEIP       = 0xfffffff0 // the x86 reset vector
	gpatDefault  = 0x0007040600070406
	gpatGCE      = 0x00070106
	efeSVME      = 0x1000 // EFER.SVME, set by KVM
	cr4MCE       = 0x40
	cr0ET        = 0x10
	dr7Reset     = 0x400
	dr6Reset     = 0xffff0ff0
	rflagsReset  = 0x2
	xcr0Reset    = 0x1
	mxcsrReset   = 0x1f80
	fcwReset     = 0x37f
	attrData     = 0x93 // present, writable, accessed data segment
	attrLDT      = 0x82
	attrCode     = 0x9b
	attrTSS      = 0x8b
	segLimitReal = 0xffff
	csSelector   = 0xf000
)

// vmsaParams are the inputs that decide a VMSA page's bytes.
type vmsaParams struct {
	eip         uint32
	bsp         bool
	vcpuSig     uint32
	sevFeatures uint64
	state       InitialState
}

// newVMSA builds the initial save area of one vCPU as the VMM hands it to
// LAUNCH_UPDATE_VMSA.
func newVMSA(p vmsaParams) *VMSA {
	st := p.state
	csAttr := st.CSAttribAP
	if p.bsp {
		csAttr = st.CSAttribBSP
	}
	rdx := st.RDX
	if st.RDXIsCPUSignature {
		rdx = uint64(p.vcpuSig)
	}
	data := SegmentRegister{Attrib: attrData, Limit: segLimitReal}
	return &VMSA{
		ES:          data,
		CS:          SegmentRegister{Selector: csSelector, Attrib: csAttr, Limit: segLimitReal, Base: uint64(p.eip & 0xffff0000)},
		SS:          SegmentRegister{Attrib: st.SSAttrib, Limit: segLimitReal},
		DS:          data,
		FS:          data,
		GS:          data,
		GDTR:        SegmentRegister{Limit: segLimitReal},
		IDTR:        SegmentRegister{Limit: segLimitReal},
		LDTR:        SegmentRegister{Attrib: attrLDT, Limit: segLimitReal},
		TR:          SegmentRegister{Attrib: st.TRAttrib, Limit: segLimitReal},
		EFER:        efeSVME,
		CR4:         cr4MCE,
		CR0:         cr0ET,
		DR7:         dr7Reset,
		DR6:         dr6Reset,
		RFLAGS:      rflagsReset,
		RIP:         uint64(p.eip & 0xffff),
		GPAT:        st.GPAT,
		RDX:         rdx,
		SEVFeatures: p.sevFeatures,
		XCR0:        xcr0Reset,
		MXCSR:       st.MXCSR,
		X87FCW:      st.X87FCW,
	}
}

// vmsaCache hashes each distinct VMSA page once.
type vmsaCache map[vmsaParams][48]byte

func (c vmsaCache) sha384(p vmsaParams) *[48]byte {
	h, ok := c[p]
	if !ok {
		h = sha512.Sum384(newVMSA(p).Marshal())
		c[p] = h
	}
	return &h
}
