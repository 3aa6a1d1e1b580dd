package snp

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/measure-cc/measure/ovmf"
)

// KernelHashes are the SHA-256 digests of what QEMU measures for direct boot
// (-kernel/-initrd/-append) under SEV: it puts them in the SEV hashes table,
// which OVMF checks before it runs the kernel, and the table is part of the
// launch digest.
type KernelHashes struct {
	Kernel  [32]byte // the kernel file as given to -kernel
	Initrd  [32]byte // the initrd file, or the digest of no bytes
	Cmdline [32]byte // the command line plus its NUL terminator
}

// NewKernelHashes hashes a kernel, an optional initrd (nil for none) and a
// command line as QEMU does (target/i386/sev.c sev_add_kernel_loader_hashes).
func NewKernelHashes(kernel, initrd io.Reader, cmdline string) (*KernelHashes, error) {
	var kh KernelHashes
	h := sha256.New()
	if _, err := io.Copy(h, kernel); err != nil {
		return nil, fmt.Errorf("hashing kernel: %w", err)
	}
	h.Sum(kh.Kernel[:0])
	h.Reset()
	if initrd != nil {
		if _, err := io.Copy(h, initrd); err != nil {
			return nil, fmt.Errorf("hashing initrd: %w", err)
		}
	}
	h.Sum(kh.Initrd[:0])
	kh.Cmdline = sha256.Sum256(append([]byte(cmdline), 0))
	return &kh, nil
}

// GUIDs of the SEV hashes table (QEMU target/i386/sev.c; edk2
// OvmfPkg/Library/BlobVerifierLib/BlobVerifierSevHashes.c).
var (
	hashTableHeaderGUID = ovmf.MustParseGUID("9438d606-4f22-4cc9-b479-a793d411fd21")
	hashKernelGUID      = ovmf.MustParseGUID("4de79437-abd2-427f-b835-d5b172d2045b")
	hashInitrdGUID      = ovmf.MustParseGUID("44baf731-3a2f-4bd7-9af1-41e29169781d")
	hashCmdlineGUID     = ovmf.MustParseGUID("97d02dd8-bd20-4c94-aa78-e7714d36ab2a")
)

// SEVHashTableEntry is QEMU's SevHashTableEntry.
type SEVHashTableEntry struct {
	GUID   ovmf.GUID
	Length uint16 // size of this entry: 50
	Hash   [32]byte
}

// SEVHashTable is QEMU's SevHashTable: a GUIDed header and three entries in
// this order.
type SEVHashTable struct {
	GUID    ovmf.GUID
	Length  uint16 // size of the table without padding: 168
	Cmdline SEVHashTableEntry
	Initrd  SEVHashTableEntry
	Kernel  SEVHashTableEntry
}

// Sizes of the hashes table (sev_test.go asserts them with binary.Size).
const (
	hashEntrySize       = 16 + 2 + 32
	hashTableSize       = 16 + 2 + 3*hashEntrySize
	paddedHashTableSize = (hashTableSize + 15) &^ 15 // QEMU's PaddedSevHashTable
)

// Table returns the table as QEMU writes it into guest memory: the
// SEVHashTable padded with zeros to a multiple of 16 bytes.
func (kh *KernelHashes) Table() []byte {
	entry := func(g ovmf.GUID, h [32]byte) SEVHashTableEntry {
		return SEVHashTableEntry{GUID: g, Length: hashEntrySize, Hash: h}
	}
	t := SEVHashTable{
		GUID:    hashTableHeaderGUID,
		Length:  hashTableSize,
		Cmdline: entry(hashCmdlineGUID, kh.Cmdline),
		Initrd:  entry(hashInitrdGUID, kh.Initrd),
		Kernel:  entry(hashKernelGUID, kh.Kernel),
	}
	b := make([]byte, 0, paddedHashTableSize)
	b, _ = binary.Append(b, binary.LittleEndian, &t) // fixed-size: cannot fail
	return b[:paddedHashTableSize]
}

// checkHashTable checks that the image tells QEMU where to put the table, as
// QEMU does before it adds the hashes.
func checkHashTable(img *ovmf.Image) (*ovmf.SEVHashTableDescriptor, error) {
	d := img.SEVHashTable()
	if d == nil {
		return nil, fmt.Errorf("firmware has no SEV hashes table entry (GUID %s): it cannot measure a kernel; use an AmdSevX64 build", ovmf.SEVHashTableGUID)
	}
	if d.Base == 0 || d.Size < paddedHashTableSize {
		return nil, fmt.Errorf("firmware's SEV hashes table area (base %#x, size %#x) is empty or smaller than the %d-byte table: it cannot measure a kernel; use an AmdSevX64 build", d.Base, d.Size, paddedHashTableSize)
	}
	return d, nil
}
