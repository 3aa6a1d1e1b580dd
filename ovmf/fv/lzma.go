package fv

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/measure-cc/measure/ovmf"
)

// This file is an LZMA decoder for the "LZMA alone" format that edk2's
// LzmaCompress writes into GUID-defined sections (LzmaCustomDecompress,
// MdeModulePkg/Library/LzmaCustomDecompressLib): a 13-byte header (the
// properties byte lc/lp/pb, the 32-bit dictionary size and the 64-bit
// uncompressed size, all little-endian) and the range-coded stream. It
// follows Igor Pavlov's LZMA specification (lzma-specification.txt and
// LzmaSpec.cpp in the LZMA SDK) for every decision the format makes.
//
// The output is the dictionary: the decoder writes into one buffer whose
// size the header declares, so a match may reach back to any byte written
// so far (and no further than the dictionary size). Memory is the declared
// size and a small constant, and the declared size is bounded by a cap and
// by the most the stream can expand to; corrupt or hostile streams give
// errors, never panics.

// LZMAGUID is gLzmaCustomDecompressGuid (edk2 MdeModulePkg.dec), the
// section definition GUID of OVMF's compressed volumes.
var LZMAGUID = ovmf.MustParseGUID("ee4e5898-3914-4259-9d6e-dc7bd79403cf")

// LZMA header layout (LZMA specification, "The .lzma file format").
const (
	LZMAHeaderSize    = 13 // properties, dictionary size, uncompressed size
	lzmaDictOffset    = 1  // uint32 dictionary size
	lzmaSizeOffset    = 5  // uint64 uncompressed size
	lzmaUnknownSize   = ^uint64(0)
	lzmaMaxProps      = 9 * 5 * 5 // lc < 9, lp < 5, pb < 5
	lzmaMinDictSize   = 1 << 12   // LZMA_DIC_MIN
	MaxLZMAOutput     = 64 << 20  // default cap on one decompressed stream
	lzmaMatchMinLen   = 2
	lzmaStates        = 12
	lzmaPosBitsMax    = 4
	lzmaLenToPosState = 4
	lzmaEndPosModel   = 14  // kEndPosModelIndex
	lzmaFullDistances = 128 // 1 << (kEndPosModelIndex >> 1)
	lzmaAlignBits     = 4
	lzmaLiteralCoder  = 0x300 // probabilities per literal context
)

// Range coder constants (LZMA specification, "The range decoder").
const (
	rcTopValue      = 1 << 24
	rcModelBits     = 11
	rcBitModelTotal = 1 << rcModelBits
	rcMoveBits      = 5
	rcInitProb      = rcBitModelTotal / 2
	rcProbMax       = rcBitModelTotal - (1<<rcMoveBits - 1) // 2017; probabilities stay in [31, 2017]
)

// Sentinel errors of the LZMA decoder.
var (
	// ErrLZMATooLarge reports a declared size over the caller's cap.
	ErrLZMATooLarge = errors.New("LZMA: declared size over the limit")
	// ErrLZMACorrupt reports a stream that is not valid LZMA.
	ErrLZMACorrupt = errors.New("LZMA: corrupt stream")
)

// LZMAHeader is the 13-byte header of an LZMA-alone stream.
type LZMAHeader struct {
	// Props is (pb * 5 + lp) * 9 + lc.
	Props    uint8
	DictSize uint32
	// Size is the uncompressed size; all ones means unknown (end marker).
	Size uint64
}

// LC, LP and PB are the literal context bits, literal position bits and
// position bits of the properties byte.
func (h LZMAHeader) LC() int { return int(h.Props) % 9 }

// LP is the number of literal position bits.
func (h LZMAHeader) LP() int { return int(h.Props) / 9 % 5 }

// PB is the number of position bits.
func (h LZMAHeader) PB() int { return int(h.Props) / 45 }

// ParseLZMAHeader reads the header of an LZMA-alone stream.
func ParseLZMAHeader(b []byte) (LZMAHeader, error) {
	if len(b) < LZMAHeaderSize {
		return LZMAHeader{}, fmt.Errorf("%w: header is %d bytes, want %d", ErrLZMACorrupt, len(b), LZMAHeaderSize)
	}
	h := LZMAHeader{
		Props:    b[0],
		DictSize: binary.LittleEndian.Uint32(b[lzmaDictOffset:]),
		Size:     binary.LittleEndian.Uint64(b[lzmaSizeOffset:]),
	}
	if h.Props >= lzmaMaxProps {
		return LZMAHeader{}, fmt.Errorf("%w: properties byte %#x, want below %#x", ErrLZMACorrupt, h.Props, lzmaMaxProps)
	}
	return h, nil
}

// Marshal returns the 13 header bytes (the inverse of ParseLZMAHeader).
func (h LZMAHeader) Marshal() []byte {
	b := make([]byte, LZMAHeaderSize)
	b[0] = h.Props
	binary.LittleEndian.PutUint32(b[lzmaDictOffset:], h.DictSize)
	binary.LittleEndian.PutUint64(b[lzmaSizeOffset:], h.Size)
	return b
}

// DecompressLZMA decodes an LZMA-alone stream (header and range-coded
// data) whose header declares its uncompressed size, as edk2's
// LzmaCustomDecompress requires. maxSize caps that size; 0 means
// MaxLZMAOutput. The stream must produce exactly the declared size (an end
// marker after it is accepted) and use all of the input.
//
// Memory: the output is the dictionary, allocated once at the declared size
// after that size has passed maxSize and the most LZMA can expand the
// stream (lzmaMaxRatio); besides it the decoder holds its probabilities
// (about 16 KiB with edk2's lc=3 lp=0; 6 MiB at most, lc+lp = 12) and a
// padded copy of the last bytes of the stream (under 128 bytes).
func DecompressLZMA(data []byte, maxSize int) ([]byte, error) {
	if maxSize <= 0 {
		maxSize = MaxLZMAOutput
	}
	h, err := ParseLZMAHeader(data)
	if err != nil {
		return nil, err
	}
	if h.Size == lzmaUnknownSize {
		return nil, fmt.Errorf("%w: uncompressed size unknown (end-marker streams are not what edk2 writes)", ErrLZMACorrupt)
	}
	if h.Size > uint64(maxSize) {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrLZMATooLarge, h.Size, maxSize)
	}
	stream := data[LZMAHeaderSize:]
	rc, err := newRangeDecoder(stream)
	if err != nil {
		return nil, err
	}
	if h.Size > uint64(len(stream))*lzmaMaxRatio {
		return nil, fmt.Errorf("%w: %d bytes declared for %d bytes of range-coded data, more than LZMA can expand them (%d:1)",
			ErrLZMACorrupt, h.Size, len(stream), lzmaMaxRatio)
	}
	out := make([]byte, h.Size)
	if err := newLZMADecoder(h).decode(rc, out); err != nil {
		return nil, err
	}
	return out, nil
}

// lzmaMaxRatio bounds the output bytes one byte of range-coded data can
// yield, more than twice the real bound of about 7100: an adaptive
// probability stays within [31, 2017] of 2048, so each decoded bit narrows
// the range by a factor of 2017/2048 or more and so consumes at least 0.022
// bits of input (a byte comes in per 8 bits of narrowing); the most output
// per decoded bit is a rep0 match of 273 bytes in 14 bits (isMatch, isRep,
// isRepG0, isRep0Long, two length choices, 8 length bits): 19.5 bytes per
// bit, 19.5/0.022*8 = 7091 bytes per input byte. xz -9e turns 64 MiB of
// zeros into 9542 bytes of range-coded data (7033:1).
const lzmaMaxRatio = 1 << 14

// LZMASection is a Decompressor for Options.Decompress: it opens
// LzmaCustomDecompress GUID-defined sections with DecompressLZMA and leaves
// any other GUID opaque.
func LZMASection(guid ovmf.GUID, data []byte) ([]byte, bool, error) {
	if guid != LZMAGUID {
		return nil, false, nil
	}
	out, err := DecompressLZMA(data, 0)
	if err != nil {
		return nil, false, err
	}
	return out, true, nil
}

// rangeDecoder is the LZMA range decoder over an in-memory stream. It is a
// value of four words: each method returns the advanced decoder, so that
// the compiler keeps it in registers (a decoder behind a pointer, or one
// over four words, is stored and reloaded at every bit). in is the unread
// input: reading a byte reslices it.
//
// It normalizes before each bit, as LzmaDec.c and xz do, rather than after
// it as LzmaSpec.cpp does: the bytes read and the code each bit sees are
// the same, and normalize catches up after the last bit. A bit reads at
// most one byte, with a bounds check but no test for the end of the input:
// lzmaDecoder.decode switches to a zero-padded copy of the last bytes of
// the stream before a symbol could read past them.
type rangeDecoder struct {
	in   []byte
	rng  uint32
	code uint32
}

func newRangeDecoder(in []byte) (rangeDecoder, error) {
	if len(in) < 5 {
		return rangeDecoder{}, fmt.Errorf("%w: %d bytes of range-coded data, want at least 5", ErrLZMACorrupt, len(in))
	}
	if in[0] != 0 {
		return rangeDecoder{}, fmt.Errorf("%w: first range coder byte %#x, want 0", ErrLZMACorrupt, in[0])
	}
	rc := rangeDecoder{in: in[5:], rng: 0xffffffff, code: binary.BigEndian.Uint32(in[1:5])}
	if rc.code == rc.rng {
		return rangeDecoder{}, fmt.Errorf("%w: initial code equals the range", ErrLZMACorrupt)
	}
	return rc, nil
}

// lzmaSymbolReads bounds the bytes one symbol reads: one a bit, at most 48
// bits (a match: isMatch, isRep, 10 length bits, 6 slot bits, 26 direct
// and 4 align bits), and the normalization after the last symbol.
const lzmaSymbolReads = 64

// padded returns the decoder over a copy of its unread input followed by
// lzmaSymbolReads zero bytes.
func (rc rangeDecoder) padded() rangeDecoder {
	buf := make([]byte, len(rc.in)+lzmaSymbolReads)
	copy(buf, rc.in)
	rc.in = buf
	return rc
}

// normalize shifts in a byte when the range is below rcTopValue.
func (rc rangeDecoder) normalize() rangeDecoder {
	if rc.rng < rcTopValue {
		rc.rng <<= 8
		rc.code = rc.code<<8 | uint32(rc.in[0])
		rc.in = rc.in[1:]
	}
	return rc
}

// bit decodes one bit with the adaptive probability *p. It is inlined into
// every loop that calls it: go build -gcflags=-m=2 ./ovmf/fv reports "can
// inline rangeDecoder.bit with cost 80" (80 is the budget; scripts/
// bench-lzma.sh checks it). Those loops (literal, tree, ...) are functions
// of their own, one call a symbol.
func (rc rangeDecoder) bit(p *uint16) (rangeDecoder, uint32) {
	if rc.rng < rcTopValue {
		rc.rng <<= 8
		rc.code = rc.code<<8 | uint32(rc.in[0])
		rc.in = rc.in[1:]
	}
	bound := (rc.rng >> rcModelBits) * uint32(*p)
	if rc.code < bound {
		rc.rng = bound
		*p += (rcBitModelTotal - *p) >> rcMoveBits
		return rc, 0
	}
	rc.rng -= bound
	rc.code -= bound
	*p -= *p >> rcMoveBits
	return rc, 1
}

// bitNoBranch is bit without a branch, for the bits of literals and bit
// trees: they are hard to predict, and a mispredicted branch costs more than
// the arithmetic (decoding takes 13% less time so). mask is all ones when
// the bit is 1. The update of *p is bit's: for a 0, p+(2048-p)>>5 equals
// p-(p-2017)>>5 with an arithmetic shift; for a 1, p-p>>5. It does not
// normalize, since the two do not fit one inlining budget: callers write
// rc.normalize().bitNoBranch(p) (cost 72 plus 31).
func (rc rangeDecoder) bitNoBranch(p *uint16) (rangeDecoder, uint32) {
	prob := uint32(*p)
	bound := (rc.rng >> rcModelBits) * prob
	mask := uint32((uint64(rc.code)-uint64(bound))>>63) - 1
	rc.code -= bound & mask
	rc.rng = bound ^ (bound^(rc.rng-bound))&mask
	*p = uint16(int32(prob) - (int32(prob)-int32(rcProbMax)&^int32(mask))>>rcMoveBits)
	return rc, mask & 1
}

// direct decodes n bits of fixed probability one half; false means the
// code left the range (a corrupt stream).
func (rc rangeDecoder) direct(n uint32) (rangeDecoder, uint32, bool) {
	var res uint32
	for ; n > 0; n-- {
		rc = rc.normalize()
		rc.rng >>= 1
		b := uint32(0)
		if rc.code >= rc.rng {
			rc.code -= rc.rng
			b = 1
		}
		if rc.code >= rc.rng {
			return rc, 0, false
		}
		res = res<<1 | b
	}
	return rc, res, true
}

// tree decodes a numBits-bit symbol, most significant bit first, with the
// probabilities p[1 : 1<<numBits].
func (rc rangeDecoder) tree(p []uint16, numBits uint32) (rangeDecoder, uint32) {
	m := uint32(1)
	for range numBits {
		var b uint32
		rc, b = rc.normalize().bitNoBranch(&p[m])
		m = m<<1 | b
	}
	return rc, m - 1<<numBits
}

// reverseTree decodes a numBits-bit symbol, least significant bit first.
func (rc rangeDecoder) reverseTree(p []uint16, numBits uint32) (rangeDecoder, uint32) {
	m, sym := uint32(1), uint32(0)
	for i := range numBits {
		var b uint32
		rc, b = rc.normalize().bitNoBranch(&p[m])
		m = m<<1 | b
		sym |= b << i
	}
	return rc, sym
}

// lenDecoder decodes match lengths minus lzmaMatchMinLen (0 to 271).
type lenDecoder struct {
	choice, choice2 uint16
	low             [1 << lzmaPosBitsMax][1 << 3]uint16
	mid             [1 << lzmaPosBitsMax][1 << 3]uint16
	high            [1 << 8]uint16
}

func (l *lenDecoder) init() {
	l.choice, l.choice2 = rcInitProb, rcInitProb
	for i := range l.low {
		fill(l.low[i][:])
		fill(l.mid[i][:])
	}
	fill(l.high[:])
}

func (l *lenDecoder) decode(rc rangeDecoder, posState uint32) (rangeDecoder, uint32) {
	var b, n uint32
	if rc, b = rc.bit(&l.choice); b == 0 {
		return rc.tree(l.low[posState&(1<<lzmaPosBitsMax-1)][:], 3)
	}
	if rc, b = rc.bit(&l.choice2); b == 0 {
		rc, n = rc.tree(l.mid[posState&(1<<lzmaPosBitsMax-1)][:], 3)
		return rc, 8 + n
	}
	rc, n = rc.tree(l.high[:], 8)
	return rc, 16 + n
}

func fill(p []uint16) {
	for i := range p {
		p[i] = rcInitProb
	}
}

// lzmaDecoder holds the adaptive probabilities of one stream. The arrays
// indexed by state<<lzmaPosBitsMax+posState have 256 entries (192 used) so
// that a uint8 index needs no bounds check.
type lzmaDecoder struct {
	lc, lp, pb uint
	dictSize   uint32

	literal    []uint16
	isMatch    [256]uint16
	isRep      [lzmaStates]uint16
	isRepG0    [lzmaStates]uint16
	isRepG1    [lzmaStates]uint16
	isRepG2    [lzmaStates]uint16
	isRep0Long [256]uint16
	posSlot    [lzmaLenToPosState][1 << 6]uint16
	posSpecial [1 + lzmaFullDistances - lzmaEndPosModel]uint16
	align      [1 << lzmaAlignBits]uint16
	matchLen   lenDecoder
	repLen     lenDecoder
}

func newLZMADecoder(h LZMAHeader) *lzmaDecoder {
	d := &lzmaDecoder{
		lc: uint(h.LC()), lp: uint(h.LP()), pb: uint(h.PB()),
		dictSize: max(h.DictSize, lzmaMinDictSize),
	}
	d.literal = make([]uint16, lzmaLiteralCoder<<(d.lc+d.lp))
	fill(d.literal)
	fill(d.isMatch[:])
	fill(d.isRep[:])
	fill(d.isRepG0[:])
	fill(d.isRepG1[:])
	fill(d.isRepG2[:])
	fill(d.isRep0Long[:])
	for i := range d.posSlot {
		fill(d.posSlot[i][:])
	}
	fill(d.posSpecial[:])
	fill(d.align[:])
	d.matchLen.init()
	d.repLen.init()
	return d
}

func corrupt(pos int, format string, a ...any) error {
	return fmt.Errorf("%w at output byte %d: %s", ErrLZMACorrupt, pos, fmt.Sprintf(format, a...))
}

// decode runs the LZMA decoding loop of the specification until out, the
// declared size, is full. out is the dictionary: matches copy from it.
func (d *lzmaDecoder) decode(rc rangeDecoder, out []byte) error {
	var (
		pos                    int
		size                   = len(out)
		state                  uint32 // below lzmaStates
		rep0, rep1, rep2, rep3 uint32 // distances minus one, below pos
		b                      uint32
		pbMask                 = uint32(1)<<d.pb - 1
		lpMask                 = uint32(1)<<d.lp - 1
		lc                     = d.lc
	)
	// State transitions of the specification (UpdateState_Literal, _Match,
	// _Rep, _ShortRep) by state; states 0 to 6 follow a literal.
	var (
		afterLiteral = [lzmaStates]uint8{0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 4, 5}
		afterMatch   = [lzmaStates]uint8{7, 7, 7, 7, 7, 7, 7, 10, 10, 10, 10, 10}
		afterRep     = [lzmaStates]uint8{8, 8, 8, 8, 8, 8, 8, 11, 11, 11, 11, 11}
		afterShort   = [lzmaStates]uint8{9, 9, 9, 9, 9, 9, 9, 11, 11, 11, 11, 11}
	)
	streamLen := len(rc.in) + 5
	pad := 0 // the zero bytes at the end of rc.in once it is padded
	for {
		if len(rc.in) < lzmaSymbolReads {
			if pad != 0 {
				return corrupt(pos, "the compressed data ends early (%d bytes)", streamLen)
			}
			rc, pad = rc.padded(), lzmaSymbolReads
		}
		if pos == size {
			if rc = rc.normalize(); rc.code == 0 {
				break // finished without an end marker
			}
		}
		posState := uint32(pos) & pbMask
		stateIdx := uint8(state<<lzmaPosBitsMax | posState)
		if rc, b = rc.bit(&d.isMatch[stateIdx]); b == 0 {
			if pos >= size {
				return corrupt(pos, "a literal past the declared size")
			}
			var prev uint32
			if pos > 0 {
				prev = uint32(out[pos-1])
			}
			ctx := int((uint32(pos)&lpMask)<<lc + prev>>(8-lc))
			p := (*[lzmaLiteralCoder]uint16)(d.literal[ctx*lzmaLiteralCoder:])
			sym := uint32(1)
			if state >= 7 {
				// After a match: while the bits agree with those of the
				// byte at distance rep0+1, they use p[0x100+matchBit<<8+sym],
				// then p[sym]. off is 0x100 until the first difference and
				// 0 from it on: a 1 keeps it when mbit is set, a 0 when not.
				match, off := uint32(out[pos-int(rep0)-1]), uint32(0x100)
				for sym < 0x100 {
					match <<= 1
					mbit := match & off
					rc, b = rc.normalize().bitNoBranch(&p[off+mbit+sym])
					sym = sym<<1 | b
					off &^= mbit ^ -b
				}
			} else {
				for sym < 0x100 {
					rc, b = rc.normalize().bitNoBranch(&p[sym])
					sym = sym<<1 | b
				}
			}
			out[pos] = byte(sym)
			pos++
			state = uint32(afterLiteral[state])
			continue
		}
		var length uint32
		if rc, b = rc.bit(&d.isRep[state]); b != 0 {
			if pos >= size {
				return corrupt(pos, "a repeated match past the declared size")
			}
			if pos == 0 {
				return corrupt(pos, "a repeated match before any output")
			}
			if rc, b = rc.bit(&d.isRepG0[state]); b == 0 {
				if rc, b = rc.bit(&d.isRep0Long[stateIdx]); b == 0 {
					// Short rep: one byte at distance rep0+1.
					state = uint32(afterShort[state])
					out[pos] = out[pos-int(rep0)-1]
					pos++
					continue
				}
			} else {
				var dist uint32
				if rc, b = rc.bit(&d.isRepG1[state]); b == 0 {
					dist = rep1
				} else {
					if rc, b = rc.bit(&d.isRepG2[state]); b == 0 {
						dist = rep2
					} else {
						dist = rep3
						rep3 = rep2
					}
					rep2 = rep1
				}
				rep1 = rep0
				rep0 = dist
			}
			rc, length = d.repLen.decode(rc, posState)
			state = uint32(afterRep[state])
		} else {
			rep3, rep2, rep1 = rep2, rep1, rep0
			rc, length = d.matchLen.decode(rc, posState)
			state = uint32(afterMatch[state])
			var dist uint32
			var ok bool
			if rc, dist, ok = d.distance(rc, length); !ok {
				return corrupt(pos, "direct distance bits out of range")
			}
			if dist == 0xffffffff {
				// End marker.
				if rc = rc.normalize(); len(rc.in) < pad || rc.code != 0 {
					return corrupt(pos, "end marker with the range coder not finished")
				}
				if pos != size {
					return corrupt(pos, "end marker after %d of %d bytes", pos, size)
				}
				break
			}
			if pos >= size {
				return corrupt(pos, "a match past the declared size")
			}
			if dist >= d.dictSize || int(dist) >= pos {
				return corrupt(pos, "match distance %d, want at most %d (output so far) and %d (dictionary)", uint64(dist)+1, pos, d.dictSize)
			}
			rep0 = dist
		}
		n := int(length) + lzmaMatchMinLen
		if n > size-pos {
			return corrupt(pos, "a %d-byte match past the declared size %d", n, size)
		}
		copyMatch(out, pos, int(rep0)+1, n)
		pos += n
	}
	if left := len(rc.in) - pad; left < 0 {
		return corrupt(pos, "the compressed data ends early (%d bytes)", streamLen)
	} else if left > 0 {
		return fmt.Errorf("%w: %d bytes after the end of the stream", ErrLZMACorrupt, left)
	}
	return nil
}

// distance returns the match distance minus one for a match of length
// length+lzmaMatchMinLen; 0xffffffff is the end marker. false means a
// corrupt stream.
func (d *lzmaDecoder) distance(rc rangeDecoder, length uint32) (rangeDecoder, uint32, bool) {
	rc, slot := rc.tree(d.posSlot[min(length, lzmaLenToPosState-1)][:], 6)
	if slot < 4 {
		return rc, slot, true
	}
	direct := slot>>1 - 1
	dist := (2 | slot&1) << direct
	var lo uint32
	if slot < lzmaEndPosModel {
		rc, lo = rc.reverseTree(d.posSpecial[dist-slot:], direct)
		return rc, dist + lo, true
	}
	rc, hi, ok := rc.direct(direct - lzmaAlignBits)
	if !ok {
		return rc, 0, false
	}
	rc, lo = rc.reverseTree(d.align[:], lzmaAlignBits)
	return rc, dist + hi<<lzmaAlignBits + lo, true
}

// copyMatch writes the n bytes of a match at out[pos:], copied from dist
// bytes back. When dist is below n the source overlaps what is being
// written: the bytes repeat with period dist, so each copy takes all the
// bytes from the source on, a whole number of periods that doubles every
// time (a byte loop would wait on its own stores: a run of 273 zeros at
// distance 1 is common in firmware).
func copyMatch(out []byte, pos, dist, n int) {
	from, end := pos-dist, pos+n
	for pos < end {
		pos += copy(out[pos:end], out[from:pos])
	}
}
