// Package igvm parses IGVM files (Independent Guest Virtual Machine: the
// launch format of COCONUT-SVSM, OpenHCL and QEMU's igvm-cfg) into their
// fixed header, platform, initialization and directive headers.
//
// Layouts and type numbers are those of microsoft/igvm
// igvm_defs/src/lib.rs at tag igvm_defs-v0.4.0; the checks follow the spec
// text there and the parser igvm/src/lib.rs (IgvmFile::new_from_binary) at
// igvm-v0.4.0. The package reads and checks structure only: it does not
// compute a launch digest, interpret a VMSA or a VBS register list, or apply
// relocations.
package igvm

import (
	"errors"
	"fmt"
)

// Fixed header constants (igvm_defs: IGVM_FIXED_HEADER, IGVM_FIXED_HEADER_V2,
// IGVM_MAGIC_VALUE, IGVM_FORMAT_VERSION_1/2, PAGE_SIZE_4K, IgvmArchitecture).
const (
	Magic             = 0x4D564749 // "IGVM" little-endian
	FormatVersion1    = 1
	FormatVersion2    = 2 // unstable in igvm 0.4.0: adds architecture and page size
	FixedHeaderSize   = 24
	FixedHeaderV2Size = 32
	PageSize          = 4096
	ArchX64           = 0
	ArchAArch64       = 1

	// Offsets in the fixed header.
	offMagic          = 0x00
	offFormatVersion  = 0x04
	offVarHeaderOff   = 0x08
	offVarHeaderSize  = 0x0C
	offTotalFileSize  = 0x10
	offChecksum       = 0x14
	offArchitecture   = 0x18
	offPageSize       = 0x1C
	variableTLVSize   = 8 // IGVM_VHS_VARIABLE_HEADER: typ u32, length u32
	variableAlignment = 8 // every variable header starts 8-byte aligned; padding is zero
)

// MaxFileSize bounds what Parse accepts. total_file_size is a u32, so no
// IGVM file is larger than 4 GiB; 1 GiB is far above any known file.
const MaxFileSize = 1 << 30

// Errors callers branch on. Every error Parse returns wraps one of them.
var (
	// ErrTruncated: the file ends before something it declares.
	ErrTruncated = errors.New("igvm: truncated")
	// ErrMalformed: a field holds a value the format forbids.
	ErrMalformed = errors.New("igvm: malformed")
	// ErrUnsupported: a valid-looking feature this package does not read
	// (format version, header type).
	ErrUnsupported = errors.New("igvm: unsupported")
)

// HeaderType is a variable header's type (igvm_defs IgvmVariableHeaderType).
type HeaderType uint32

// Variable header types (igvm_defs IgvmVariableHeaderType, v0.4.0; the
// CoRIM and CCA types were added after 0.4.0, at microsoft/igvm e6c3ff1).
const (
	TypeSupportedPlatform    HeaderType = 0x001
	TypeGuestPolicy          HeaderType = 0x101
	TypeRelocatableRegion    HeaderType = 0x102
	TypePageTableRelocation  HeaderType = 0x103
	TypeCorimDocument        HeaderType = 0x104
	TypeCorimSignature       HeaderType = 0x105
	TypeCCAPolicy            HeaderType = 0x106
	TypeParameterArea        HeaderType = 0x301
	TypePageData             HeaderType = 0x302
	TypeParameterInsert      HeaderType = 0x303
	TypeVPContext            HeaderType = 0x304
	TypeRequiredMemory       HeaderType = 0x305
	TypeReserved306          HeaderType = 0x306
	TypeVPCountParameter     HeaderType = 0x307
	TypeSRAT                 HeaderType = 0x308
	TypeMADT                 HeaderType = 0x309
	TypeMMIORanges           HeaderType = 0x30A
	TypeSNPIDBlock           HeaderType = 0x30B
	TypeMemoryMap            HeaderType = 0x30C
	TypeErrorRange           HeaderType = 0x30D
	TypeCommandLine          HeaderType = 0x30E
	TypeSLIT                 HeaderType = 0x30F
	TypePPTT                 HeaderType = 0x310
	TypeVBSMeasurement       HeaderType = 0x311
	TypeDeviceTree           HeaderType = 0x312
	TypeEnvironmentInfoParam HeaderType = 0x313
	TypeOptionalBit          HeaderType = 1 << 31 // IGVM_VHT_OPTIONAL: a loader that does not know the type may ignore it
	rangePlatformFirst                  = 0x001
	rangePlatformLast                   = 0x100
	rangeInitFirst                      = 0x101
	rangeInitLast                       = 0x200
	rangeDirectiveFirst                 = 0x301
	rangeDirectiveLast                  = 0x400
)

var typeNames = map[HeaderType]string{
	TypeSupportedPlatform:    "supported_platform",
	TypeGuestPolicy:          "guest_policy",
	TypeRelocatableRegion:    "relocatable_region",
	TypePageTableRelocation:  "page_table_relocation_region",
	TypeCorimDocument:        "corim_document",
	TypeCorimSignature:       "corim_signature",
	TypeCCAPolicy:            "cca_policy",
	TypeParameterArea:        "parameter_area",
	TypePageData:             "page_data",
	TypeParameterInsert:      "parameter_insert",
	TypeVPContext:            "vp_context",
	TypeRequiredMemory:       "required_memory",
	TypeReserved306:          "reserved_0x306",
	TypeVPCountParameter:     "vp_count_parameter",
	TypeSRAT:                 "srat",
	TypeMADT:                 "madt",
	TypeMMIORanges:           "mmio_ranges",
	TypeSNPIDBlock:           "snp_id_block",
	TypeMemoryMap:            "memory_map",
	TypeErrorRange:           "error_range",
	TypeCommandLine:          "command_line",
	TypeSLIT:                 "slit",
	TypePPTT:                 "pptt",
	TypeVBSMeasurement:       "vbs_measurement",
	TypeDeviceTree:           "device_tree",
	TypeEnvironmentInfoParam: "environment_info_parameter",
}

// String names the type in snake case, or gives its number.
func (t HeaderType) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("%#x", uint32(t))
}

// PlatformType is IgvmPlatformType.
type PlatformType uint8

// Platform types (igvm_defs IgvmPlatformType; SEV and SEV-ES are unstable
// in 0.4.0).
const (
	PlatformNative       PlatformType = 0
	PlatformVSMIsolation PlatformType = 1
	PlatformSEVSNP       PlatformType = 2
	PlatformTDX          PlatformType = 3
	PlatformSEV          PlatformType = 4
	PlatformSEVES        PlatformType = 5
)

// PlatformVersion is the only platform_version igvm 0.4.0 accepts for every
// platform (IGVM_*_PLATFORM_VERSION).
const PlatformVersion = 1

var platformNames = map[PlatformType]string{
	PlatformNative: "native", PlatformVSMIsolation: "vsm_isolation", PlatformSEVSNP: "sev_snp",
	PlatformTDX: "tdx", PlatformSEV: "sev", PlatformSEVES: "sev_es",
}

// String names the platform in snake case, or gives its number.
func (p PlatformType) String() string {
	if n, ok := platformNames[p]; ok {
		return n
	}
	return fmt.Sprintf("%#x", uint8(p))
}

// FixedHeader is IGVM_FIXED_HEADER (V1, 24 bytes) and, for format version
// 2, IGVM_FIXED_HEADER_V2 (32 bytes: Architecture and PageSize follow).
type FixedHeader struct {
	Magic                uint32 // 0x00
	FormatVersion        uint32 // 0x04
	VariableHeaderOffset uint32 // 0x08
	VariableHeaderSize   uint32 // 0x0C
	TotalFileSize        uint32 // 0x10
	Checksum             uint32 // 0x14: CRC-32 (IEEE) of this header with Checksum 0, then the variable headers
	Architecture         uint32 // 0x18, V2 only
	PageSize             uint32 // 0x1C, V2 only
}

// Size is the header's size on disk for its format version.
func (h FixedHeader) Size() int {
	if h.FormatVersion == FormatVersion2 {
		return FixedHeaderV2Size
	}
	return FixedHeaderSize
}

// SupportedPlatform is IGVM_VHS_SUPPORTED_PLATFORM (16 bytes).
type SupportedPlatform struct {
	CompatibilityMask uint32       // 0x00, exactly one bit
	HighestVTL        uint8        // 0x04, 0 or 2
	PlatformType      PlatformType // 0x05
	PlatformVersion   uint16       // 0x06, 1
	SharedGPABoundary uint64       // 0x08, 0 for native and VSM
}

// GuestPolicy is IGVM_VHS_GUEST_POLICY (16 bytes).
type GuestPolicy struct {
	Policy            uint64 // 0x00: SEV-SNP guest policy or TDX attributes, per the mask's platform
	CompatibilityMask uint32 // 0x08
	Reserved          uint32 // 0x0C, zero
}

// RelocatableRegion is IGVM_VHS_RELOCATABLE_REGION (48 bytes).
type RelocatableRegion struct {
	CompatibilityMask    uint32 // 0x00
	VPIndex              uint16 // 0x04
	VTL                  uint8  // 0x06
	Flags                uint8  // 0x07
	RelocationAlignment  uint64 // 0x08
	RelocationRegionGPA  uint64 // 0x10
	RelocationRegionSize uint64 // 0x18
	MinimumRelocationGPA uint64 // 0x20
	MaximumRelocationGPA uint64 // 0x28
}

// PageTableRelocation is IGVM_VHS_PAGE_TABLE_RELOCATION (32 bytes).
type PageTableRelocation struct {
	CompatibilityMask uint32 // 0x00
	VPIndex           uint16 // 0x04
	VTL               uint8  // 0x06
	Reserved          uint8  // 0x07, zero
	GPA               uint64 // 0x08
	Size              uint64 // 0x10
	UsedSize          uint64 // 0x18
}

// ParameterArea is IGVM_VHS_PARAMETER_AREA (16 bytes).
type ParameterArea struct {
	NumberOfBytes      uint64 // 0x00, a multiple of 4 KiB
	ParameterAreaIndex uint32 // 0x08
	FileOffset         uint32 // 0x0C, 0: zeroes
}

// Page data flags (igvm_defs IgvmPageDataFlags) and types (IgvmPageDataType).
const (
	PageFlag2MB        = 1 << 0
	PageFlagUnmeasured = 1 << 1
	PageFlagShared     = 1 << 2

	PageDataNormal    = 0
	PageDataSecrets   = 1
	PageDataCPUIDData = 2
	PageDataCPUIDXF   = 3
)

// PageData is IGVM_VHS_PAGE_DATA (24 bytes).
type PageData struct {
	GPA               uint64 // 0x00, 4 KiB aligned
	CompatibilityMask uint32 // 0x08
	FileOffset        uint32 // 0x0C, 0: a zero page
	Flags             uint32 // 0x10
	DataType          uint16 // 0x14
	Reserved          uint16 // 0x16, zero
}

// ParameterInsert is IGVM_VHS_PARAMETER_INSERT (16 bytes).
type ParameterInsert struct {
	GPA                uint64 // 0x00, 4 KiB aligned
	CompatibilityMask  uint32 // 0x08
	ParameterAreaIndex uint32 // 0x0C
}

// Parameter is IGVM_VHS_PARAMETER (8 bytes), the body of VP count, SRAT,
// MADT, MMIO ranges, memory map, command line, SLIT, PPTT, device tree and
// environment info directives: where in a parameter area the loader writes.
type Parameter struct {
	ParameterAreaIndex uint32 // 0x00
	ByteOffset         uint32 // 0x04
}

// VPContext is IGVM_VHS_VP_CONTEXT (20 bytes; its GPA is an unaligned
// u64_le, and the next header starts 24 bytes on).
type VPContext struct {
	GPA               uint64 // 0x00
	CompatibilityMask uint32 // 0x08
	FileOffset        uint32 // 0x0C
	VPIndex           uint16 // 0x10
	Reserved          uint16 // 0x12
}

// RequiredMemory is IGVM_VHS_REQUIRED_MEMORY (24 bytes).
type RequiredMemory struct {
	GPA               uint64 // 0x00, 4 KiB aligned
	CompatibilityMask uint32 // 0x08
	NumberOfBytes     uint32 // 0x0C, a multiple of 4 KiB
	Flags             uint32 // 0x10, bit 0 vtl2_protectable
	Reserved          uint32 // 0x14, zero
}

// ErrorRange is IGVM_VHS_ERROR_RANGE (16 bytes).
type ErrorRange struct {
	GPA               uint64 // 0x00
	CompatibilityMask uint32 // 0x08
	SizeBytes         uint32 // 0x0C
}

// SNPSignature is IGVM_VHS_SNP_ID_BLOCK_SIGNATURE (144 bytes, little-endian r and s).
type SNPSignature struct {
	R [72]byte
	S [72]byte
}

// SNPPublicKey is IGVM_VHS_SNP_ID_BLOCK_PUBLIC_KEY (152 bytes). Unlike the
// SEV-SNP ABI's key, a reserved u32 sits between curve and QX.
type SNPPublicKey struct {
	Curve    uint32
	Reserved uint32
	QX       [72]byte
	QY       [72]byte
}

// SNPIDBlock is IGVM_VHS_SNP_ID_BLOCK (0x2B8 = 696 bytes). It has no policy:
// a loader takes that from the GuestPolicy of the same mask.
type SNPIDBlock struct {
	CompatibilityMask  uint32       // 0x000
	AuthorKeyEnabled   uint8        // 0x004
	Reserved           [3]byte      // 0x005
	LD                 [48]byte     // 0x008
	FamilyID           [16]byte     // 0x038
	ImageID            [16]byte     // 0x048
	Version            uint32       // 0x058
	GuestSVN           uint32       // 0x05C
	IDKeyAlgorithm     uint32       // 0x060
	AuthorKeyAlgorithm uint32       // 0x064
	IDKeySignature     SNPSignature // 0x068
	IDPublicKey        SNPPublicKey // 0x0F8
	AuthorKeySignature SNPSignature // 0x190
	AuthorPublicKey    SNPPublicKey // 0x220
}

// VBSMeasurement is IGVM_VHS_VBS_MEASUREMENT (864 bytes).
type VBSMeasurement struct {
	CompatibilityMask     uint32    // 0x000
	Version               uint32    // 0x004
	ProductID             uint32    // 0x008
	ModuleID              uint32    // 0x00C
	SecurityVersion       uint32    // 0x010
	PolicyFlags           uint32    // 0x014
	BootDigestAlgo        uint32    // 0x018
	SigningAlgo           uint32    // 0x01C
	BootMeasurementDigest [64]byte  // 0x020
	Signature             [256]byte // 0x060
	PublicKey             [512]byte // 0x160
}

// Header is one variable header: Offset is where its type/length pair
// sits in the file, Body one of the structs above (*SupportedPlatform,
// *GuestPolicy, *PageData, ..., *Parameter), or nil for a skipped optional
// header.
type Header struct {
	Type   HeaderType
	Offset int64
	Length uint32
	Body   any
}

// CompatibilityMask returns the header's compatibility mask, and false for
// headers without one (parameters and parameter areas apply to all).
func (h Header) CompatibilityMask() (uint32, bool) {
	switch b := h.Body.(type) {
	case *SupportedPlatform:
		return b.CompatibilityMask, true
	case *GuestPolicy:
		return b.CompatibilityMask, true
	case *RelocatableRegion:
		return b.CompatibilityMask, true
	case *PageTableRelocation:
		return b.CompatibilityMask, true
	case *PageData:
		return b.CompatibilityMask, true
	case *ParameterInsert:
		return b.CompatibilityMask, true
	case *VPContext:
		return b.CompatibilityMask, true
	case *RequiredMemory:
		return b.CompatibilityMask, true
	case *ErrorRange:
		return b.CompatibilityMask, true
	case *SNPIDBlock:
		return b.CompatibilityMask, true
	case *VBSMeasurement:
		return b.CompatibilityMask, true
	}
	return 0, false
}

// File is a parsed IGVM file. Its slices refer to the bytes given to Parse.
type File struct {
	Header         FixedHeader
	Platforms      []Header // SupportedPlatform headers, in file order
	Initialization []Header
	Directives     []Header
	// Skipped lists optional headers (type bit 31 set) of types this
	// package does not know, which the spec lets a loader ignore.
	Skipped []Header

	raw           []byte
	fileDataStart uint32
}

// Platform returns the supported platform whose mask is mask.
func (f *File) Platform(mask uint32) (*SupportedPlatform, bool) {
	for _, h := range f.Platforms {
		if p := h.Body.(*SupportedPlatform); p.CompatibilityMask == mask {
			return p, true
		}
	}
	return nil, false
}

// Data returns n bytes of file data at fileOffset, the way directives
// address it; fileOffset 0 means no data (nil).
func (f *File) Data(fileOffset uint32, n uint64) ([]byte, error) {
	if fileOffset == 0 {
		return nil, nil
	}
	if fileOffset < f.fileDataStart {
		return nil, fmt.Errorf("%w: file offset %#x is inside the headers, which end at %#x", ErrMalformed, fileOffset, f.fileDataStart)
	}
	end := uint64(fileOffset) + n
	if end > uint64(len(f.raw)) {
		return nil, fmt.Errorf("%w: %d bytes of data at file offset %#x end at %#x, past the file end %#x", ErrTruncated, n, fileOffset, end, len(f.raw))
	}
	return f.raw[fileOffset:end], nil
}
