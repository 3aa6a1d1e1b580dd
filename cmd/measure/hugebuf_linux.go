package main

import (
	"syscall"
	"unsafe"
)

// hugePage is the size of a transparent huge page on x86-64 and arm64 with
// 4 KiB pages.
const hugePage = 2 << 20

// hugeBuffer returns size bytes of fresh anonymous memory, with capacity
// for at least one more, that the kernel may back with transparent huge
// pages (MADV_HUGEPAGE), or nil when size is below one huge page or the
// memory cannot be had. Reading a 4 MiB firmware into it costs a few page
// faults instead of a thousand, which is a tenth of measuring it. The
// memory is never returned: main alone uses it (hugeReads), for the one
// firmware a process measures. It is not a mapping of the file, so a
// file truncated or rewritten meanwhile cannot fault or change it.
func hugeBuffer(size int) []byte {
	if !hugeReads || size < hugePage {
		return nil
	}
	n := (size + 1 + hugePage - 1) &^ (hugePage - 1)
	m, err := syscall.Mmap(-1, 0, n+hugePage, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil
	}
	off := 0
	if a := uintptr(unsafe.Pointer(unsafe.SliceData(m))) % hugePage; a != 0 {
		off = int(hugePage - a)
	}
	b := m[off : off+n]
	// Without transparent huge pages (or with them off) the advice fails
	// or is ignored, and the memory is ordinary pages: still correct.
	_ = syscall.Madvise(b, syscall.MADV_HUGEPAGE)
	return b[:size:n]
}
