package snp

import (
	"crypto/sha512"
	"encoding/binary"
	"runtime"
	"sync"
)

// PageType is the PAGE_TYPE field of SNP_LAUNCH_UPDATE (AMD SEV-SNP
// Firmware ABI specification, section 8.17 SNP_LAUNCH_UPDATE).
type PageType uint8

// SNP launch update page types.
const (
	PageNormal     PageType = 0x01
	PageVMSA       PageType = 0x02
	PageZero       PageType = 0x03
	PageUnmeasured PageType = 0x04
	PageSecrets    PageType = 0x05
	PageCPUID      PageType = 0x06
)

// vmsaGPA is the GPA recorded for a VMSA page: the RMP entry of a VMSA has GPA
// (u64)-1, page aligned and with the bits above 51 cleared.
const vmsaGPA = 0xFFFFFFFFF000

// pageInfo is PAGE_INFO (SEV-SNP Firmware ABI specification, section 8.17.2,
// "Layout of the PAGE_INFO structure"): what the firmware hashes into the launch digest for each page.
type pageInfo struct {
	DigestCur  [48]byte // the launch digest so far
	Contents   [48]byte // SHA-384 of the page, or zero for non-normal pages
	Length     uint16   // 0x70, the size of this structure
	PageType   PageType
	IMIPage    uint8 // bit 0: the page was added by the migration agent
	VMPL3Perms uint8
	VMPL2Perms uint8
	VMPL1Perms uint8
	Reserved   uint8
	GPA        uint64
}

// Offsets of pageInfo fields, for marshalling without reflection.
const (
	pageInfoSize      = 0x70
	pageInfoContents  = 0x30
	pageInfoLength    = 0x60
	pageInfoPageType  = 0x62
	pageInfoGPAOffset = 0x68
)

// gctx is the guest context's launch digest (LD) as SNP_LAUNCH_UPDATE
// advances it: LD = SHA-384(PAGE_INFO) with PAGE_INFO.DIGEST_CUR = LD.
type gctx struct {
	ld  SNPDigest
	buf [pageInfoSize]byte
}

func (g *gctx) update(t PageType, gpa uint64, contents *[48]byte) {
	b := &g.buf
	copy(b[:48], g.ld[:])
	copy(b[pageInfoContents:pageInfoLength], contents[:])
	binary.LittleEndian.PutUint16(b[pageInfoLength:], pageInfoSize)
	b[pageInfoPageType] = byte(t)
	// IMI_PAGE, VMPL3..1 permissions and the reserved byte stay zero.
	binary.LittleEndian.PutUint64(b[pageInfoGPAOffset:], gpa)
	g.ld = sha512.Sum384(b[:])
}

var zeroContents [48]byte

// normalPages measures data (a multiple of 4 KiB) as NORMAL pages from gpa.
// The pages' own SHA-384s do not depend on the chain, so large inputs hash
// them on every CPU first; the chain itself is sequential.
func (g *gctx) normalPages(gpa uint64, data []byte) {
	n := len(data) / pageSize
	hashes := pageHashes(data[:n*pageSize])
	for i := range hashes {
		g.update(PageNormal, gpa+uint64(i)*pageSize, &hashes[i])
	}
}

// parallelPages is the page count from which pageHashes uses goroutines.
const parallelPages = 64

// pageHashes returns the SHA-384 of each 4 KiB page of data.
func pageHashes(data []byte) [][48]byte {
	n := len(data) / pageSize
	out := make([][48]byte, n)
	workers := runtime.GOMAXPROCS(0)
	if n < parallelPages || workers < 2 {
		for i := range out {
			out[i] = sha512.Sum384(data[i*pageSize : (i+1)*pageSize])
		}
		return out
	}
	var wg sync.WaitGroup
	per := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += per {
		hi := min(lo+per, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				out[i] = sha512.Sum384(data[i*pageSize : (i+1)*pageSize])
			}
		}()
	}
	wg.Wait()
	return out
}

// emptyPages measures size bytes from gpa as pages of type t whose contents
// are not hashed (ZERO, UNMEASURED, SECRETS, CPUID).
func (g *gctx) emptyPages(t PageType, gpa uint64, size uint32) {
	for off := uint64(0); off < uint64(size); off += pageSize {
		g.update(t, gpa+off, &zeroContents)
	}
}

// vmsaPage measures a VMSA page whose SHA-384 is h.
func (g *gctx) vmsaPage(h *[48]byte) { g.update(PageVMSA, vmsaGPA, h) }

const pageSize = 4096
