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
// so far (and no further than the dictionary size). Memory is bounded by
// the declared size, which is bounded by a cap; corrupt or hostile streams
// give errors, never panics.

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
	d := newLZMADecoder(h, data[LZMAHeaderSize:])
	if err := d.decode(); err != nil {
		return nil, err
	}
	return d.out, nil
}

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

// rangeDecoder is the LZMA range decoder over an in-memory stream.
type rangeDecoder struct {
	in    []byte
	pos   int
	rng   uint32
	code  uint32
	short bool // the stream ended before the decoder finished
}

func (rc *rangeDecoder) init() error {
	if len(rc.in) < 5 {
		return fmt.Errorf("%w: %d bytes of range-coded data, want at least 5", ErrLZMACorrupt, len(rc.in))
	}
	if rc.in[0] != 0 {
		return fmt.Errorf("%w: first range coder byte %#x, want 0", ErrLZMACorrupt, rc.in[0])
	}
	rc.rng = 0xffffffff
	rc.code = binary.BigEndian.Uint32(rc.in[1:5])
	rc.pos = 5
	if rc.code == rc.rng {
		return fmt.Errorf("%w: initial code equals the range", ErrLZMACorrupt)
	}
	return nil
}

func (rc *rangeDecoder) normalize() {
	if rc.rng < rcTopValue {
		rc.rng <<= 8
		var b byte
		if rc.pos < len(rc.in) {
			b = rc.in[rc.pos]
			rc.pos++
		} else {
			rc.short = true
		}
		rc.code = rc.code<<8 | uint32(b)
	}
}

// bit decodes one bit with the adaptive probability *p.
func (rc *rangeDecoder) bit(p *uint16) uint32 {
	bound := (rc.rng >> rcModelBits) * uint32(*p)
	var b uint32
	if rc.code < bound {
		*p += (rcBitModelTotal - *p) >> rcMoveBits
		rc.rng = bound
	} else {
		*p -= *p >> rcMoveBits
		rc.code -= bound
		rc.rng -= bound
		b = 1
	}
	rc.normalize()
	return b
}

// direct decodes n bits of fixed probability one half.
func (rc *rangeDecoder) direct(n int) (uint32, bool) {
	var res uint32
	for ; n > 0; n-- {
		rc.rng >>= 1
		b := uint32(0)
		if rc.code >= rc.rng {
			rc.code -= rc.rng
			b = 1
		}
		if rc.code >= rc.rng {
			return 0, false
		}
		rc.normalize()
		res = res<<1 | b
	}
	return res, true
}

// tree decodes a numBits-bit symbol, most significant bit first, with the
// probabilities p[1 : 1<<numBits].
func (rc *rangeDecoder) tree(p []uint16, numBits int) uint32 {
	m := uint32(1)
	for i := 0; i < numBits; i++ {
		m = m<<1 | rc.bit(&p[m])
	}
	return m - 1<<numBits
}

// reverseTree decodes a numBits-bit symbol, least significant bit first.
func (rc *rangeDecoder) reverseTree(p []uint16, numBits int) uint32 {
	m, sym := uint32(1), uint32(0)
	for i := 0; i < numBits; i++ {
		b := rc.bit(&p[m])
		m = m<<1 | b
		sym |= b << i
	}
	return sym
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

func (l *lenDecoder) decode(rc *rangeDecoder, posState uint32) uint32 {
	if rc.bit(&l.choice) == 0 {
		return rc.tree(l.low[posState][:], 3)
	}
	if rc.bit(&l.choice2) == 0 {
		return 8 + rc.tree(l.mid[posState][:], 3)
	}
	return 16 + rc.tree(l.high[:], 8)
}

func fill(p []uint16) {
	for i := range p {
		p[i] = rcInitProb
	}
}

type lzmaDecoder struct {
	rc         rangeDecoder
	lc, lp, pb uint
	dictSize   uint32
	size       int // declared uncompressed size
	out        []byte

	literal    []uint16
	isMatch    [lzmaStates << lzmaPosBitsMax]uint16
	isRep      [lzmaStates]uint16
	isRepG0    [lzmaStates]uint16
	isRepG1    [lzmaStates]uint16
	isRepG2    [lzmaStates]uint16
	isRep0Long [lzmaStates << lzmaPosBitsMax]uint16
	posSlot    [lzmaLenToPosState][1 << 6]uint16
	posSpecial [1 + lzmaFullDistances - lzmaEndPosModel]uint16
	align      [1 << lzmaAlignBits]uint16
	matchLen   lenDecoder
	repLen     lenDecoder
}

func newLZMADecoder(h LZMAHeader, stream []byte) *lzmaDecoder {
	d := &lzmaDecoder{
		rc: rangeDecoder{in: stream},
		lc: uint(h.LC()), lp: uint(h.LP()), pb: uint(h.PB()),
		dictSize: max(h.DictSize, lzmaMinDictSize),
		size:     int(h.Size),
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
	// Grow the output as it is written, up to the declared size, so that a
	// short hostile stream declaring a large size does not allocate it.
	d.out = make([]byte, 0, min(d.size, 1<<16))
	return d
}

// reserve makes room for n more bytes without ever exceeding d.size.
func (d *lzmaDecoder) reserve(n int) {
	need := len(d.out) + n
	if need <= cap(d.out) {
		return
	}
	c := min(max(2*cap(d.out), need), d.size)
	grown := make([]byte, len(d.out), c)
	copy(grown, d.out)
	d.out = grown
}

func (d *lzmaDecoder) corrupt(format string, a ...any) error {
	return fmt.Errorf("%w at output byte %d: %s", ErrLZMACorrupt, len(d.out), fmt.Sprintf(format, a...))
}

// decode runs the LZMA decoding loop of the specification until the
// declared size is produced.
func (d *lzmaDecoder) decode() error {
	rc := &d.rc
	if err := rc.init(); err != nil {
		return err
	}
	var state uint32
	var rep0, rep1, rep2, rep3 uint32
	pbMask := uint32(1)<<d.pb - 1
	lpMask := uint32(1)<<d.lp - 1
	for {
		if rc.short {
			return d.corrupt("the compressed data ends early (%d bytes)", len(rc.in))
		}
		pos := len(d.out)
		if pos == d.size && rc.code == 0 {
			break // finished without an end marker
		}
		posState := uint32(pos) & pbMask
		if rc.bit(&d.isMatch[state<<lzmaPosBitsMax+posState]) == 0 {
			if pos == d.size {
				return d.corrupt("a literal past the declared size")
			}
			d.decodeLiteral(state, rep0, lpMask)
			switch {
			case state < 4:
				state = 0
			case state < 10:
				state -= 3
			default:
				state -= 6
			}
			continue
		}
		var length uint32
		if rc.bit(&d.isRep[state]) != 0 {
			if pos == d.size {
				return d.corrupt("a repeated match past the declared size")
			}
			if pos == 0 {
				return d.corrupt("a repeated match before any output")
			}
			if rc.bit(&d.isRepG0[state]) == 0 {
				if rc.bit(&d.isRep0Long[state<<lzmaPosBitsMax+posState]) == 0 {
					// Short rep: one byte at distance rep0+1.
					if state < 7 {
						state = 9
					} else {
						state = 11
					}
					d.reserve(1)
					d.out = append(d.out, d.out[pos-int(rep0)-1])
					continue
				}
			} else {
				var dist uint32
				if rc.bit(&d.isRepG1[state]) == 0 {
					dist = rep1
				} else {
					if rc.bit(&d.isRepG2[state]) == 0 {
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
			length = d.repLen.decode(rc, posState)
			if state < 7 {
				state = 8
			} else {
				state = 11
			}
		} else {
			rep3, rep2, rep1 = rep2, rep1, rep0
			length = d.matchLen.decode(rc, posState)
			if state < 7 {
				state = 7
			} else {
				state = 10
			}
			dist, ok := d.decodeDistance(length)
			if !ok {
				return d.corrupt("direct distance bits out of range")
			}
			if dist == 0xffffffff {
				// End marker.
				if rc.short || rc.code != 0 {
					return d.corrupt("end marker with the range coder not finished")
				}
				if pos != d.size {
					return d.corrupt("end marker after %d of %d bytes", pos, d.size)
				}
				break
			}
			if pos == d.size {
				return d.corrupt("a match past the declared size")
			}
			if dist >= d.dictSize || int(dist) >= pos {
				return d.corrupt("match distance %d, want below %d (output so far) and %d (dictionary)", uint64(dist)+1, pos+1, d.dictSize)
			}
			rep0 = dist
		}
		n := int(length) + lzmaMatchMinLen
		if n > d.size-pos {
			return d.corrupt("a %d-byte match past the declared size %d", n, d.size)
		}
		d.copyMatch(int(rep0)+1, n)
	}
	if rc.pos != len(rc.in) {
		return fmt.Errorf("%w: %d bytes after the end of the stream", ErrLZMACorrupt, len(rc.in)-rc.pos)
	}
	return nil
}

// decodeLiteral decodes one byte; after a match (state >= 7) the byte at
// distance rep0+1 guides the first bits.
func (d *lzmaDecoder) decodeLiteral(state, rep0, lpMask uint32) {
	rc := &d.rc
	pos := len(d.out)
	var prev uint32
	if pos > 0 {
		prev = uint32(d.out[pos-1])
	}
	ctx := (uint32(pos)&lpMask)<<d.lc + prev>>(8-d.lc)
	p := d.literal[ctx*lzmaLiteralCoder : (ctx+1)*lzmaLiteralCoder]
	sym := uint32(1)
	if state >= 7 && int(rep0) < pos {
		match := uint32(d.out[pos-int(rep0)-1])
		for sym < 0x100 {
			mbit := match >> 7 & 1
			match <<= 1
			b := rc.bit(&p[(1+mbit)<<8+sym])
			sym = sym<<1 | b
			if mbit != b {
				break
			}
		}
	}
	for sym < 0x100 {
		sym = sym<<1 | rc.bit(&p[sym])
	}
	d.reserve(1)
	d.out = append(d.out, byte(sym))
}

// decodeDistance returns the match distance minus one for a match of
// length length+lzmaMatchMinLen; 0xffffffff is the end marker.
func (d *lzmaDecoder) decodeDistance(length uint32) (uint32, bool) {
	rc := &d.rc
	lenState := min(length, lzmaLenToPosState-1)
	slot := rc.tree(d.posSlot[lenState][:], 6)
	if slot < 4 {
		return slot, true
	}
	direct := int(slot>>1) - 1
	dist := (2 | slot&1) << direct
	if slot < lzmaEndPosModel {
		return dist + rc.reverseTree(d.posSpecial[dist-slot:], direct), true
	}
	hi, ok := rc.direct(direct - lzmaAlignBits)
	if !ok {
		return 0, false
	}
	return dist + hi<<lzmaAlignBits + rc.reverseTree(d.align[:], lzmaAlignBits), true
}

// copyMatch appends n bytes copied from dist bytes back; the caller has
// checked that dist is within the output and n within the declared size.
func (d *lzmaDecoder) copyMatch(dist, n int) {
	d.reserve(n)
	from := len(d.out) - dist
	if dist >= n {
		d.out = append(d.out, d.out[from:from+n]...)
		return
	}
	for i := 0; i < n; i++ {
		d.out = append(d.out, d.out[from+i])
	}
}
