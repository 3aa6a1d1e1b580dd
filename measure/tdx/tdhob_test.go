package tdx

import (
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"reflect"
	"testing"

	"github.com/measure-cc/measure/ovmf"
)

// bookwormSections are the TDVF sections of Debian bookworm's OVMF.fd (ovmf
// 2022.11-6+deb12u2), whose TempMem/TD_HOB layout is the one the
// oasisprotocol/cli TD HOB vectors were computed for.
var bookwormSections = []ovmf.TDVFSection{
	{DataOffset: 0x20000, RawDataSize: 0x1e0000, MemoryAddress: 0xffe20000, MemoryDataSize: 0x1e0000, Type: ovmf.TDVFSectionBFV, Attributes: ovmf.TDVFAttrMRExtend},
	{DataOffset: 0, RawDataSize: 0x20000, MemoryAddress: 0xffe00000, MemoryDataSize: 0x20000, Type: ovmf.TDVFSectionCFV},
	{MemoryAddress: 0x810000, MemoryDataSize: 0x10000, Type: ovmf.TDVFSectionTempMem},
	{MemoryAddress: 0x80b000, MemoryDataSize: 0x2000, Type: ovmf.TDVFSectionTempMem},
	{MemoryAddress: 0x809000, MemoryDataSize: 0x2000, Type: ovmf.TDVFSectionTDHOB},
	{MemoryAddress: 0x800000, MemoryDataSize: 0x6000, Type: ovmf.TDVFSectionTempMem},
}

func TestHOBLayoutSizes(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want int
	}{
		{"HOBGenericHeader", HOBGenericHeader{}, hobGenericHeaderSize},
		{"HOBHandoffInfoTable", HOBHandoffInfoTable{}, hobHandoffSize},
		{"HOBResourceDescriptor", HOBResourceDescriptor{}, hobResourceDescSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := binary.Size(tc.v); got != tc.want {
				t.Errorf("binary.Size(%s) = %d, want %d", tc.name, got, tc.want)
			}
		})
	}
}

// TestTDHOBOasisVectors checks the TD HOB event digest against the
// published oasisprotocol/cli vectors (build/measurement/tdx_qemu_test.go,
// "Test vectors as computed by OVMF"), memory in MiB.
func TestTDHOBOasisVectors(t *testing.T) {
	tests := []struct {
		mib  uint64
		want string
	}{
		{512, "00934f9ff0a0f65e41109afb9a7c5a0719f567f32514aeaef4c23c8535793f7064a2c69738a2000500ffae6ba349a153"},
		{640, "62f2fe0fb274f5e0530e5cefd0e547321f19e5989a73711853ddd9e4b3feb1474d6ed46ba4f3a362d01096643665a537"},
		{1024, "1055c9b9a1fc534e688560e2304e18c8597b7261818cf61fb163d40c130547309b750575947a4dcaedbdce4b8d0535f2"},
		{2048, "0b8772e5b0b41b83e6044a68397e02f49fb47066b4fbe4917ea2c45c64f323fdacbb37948f821ebaf8bc9c938ba8a749"},
		{2064, "149c7f16b4a8fd0f45c908eec2cb8bb55b557a0bb7265f5e90055649599511a5d7219b59f8b1c2eca42eb861de19b160"},
		{2560, "e05c12e2a65d57b3ff1f70abd2ae689c7e9096558dc28122befbcecad4a9d6d4569652e5c0298ee381bee5febeecbaa6"},
		{2624, "190cd2f908ac59d9ca2236d69e5e2d8c0b58648229d970331c53c329239f592efa6d437716b6e96f3467bb234c83f37a"},
		{2688, "7386292d589c0cada5ed97b0738e3606eb7fa9920e588d75b68118ec7e4ec7538dd3f6cdf531368d03f0713064b45197"},
		{2815, "51d4fd91da99cc87d6826bd6177fe8c74790b01b6a315d7ca2639d9d1df9e7835a2251b8e69ecef132b6b0302040f25e"},
		{2816, "8eb1a02074362aa0761541cdb4dc3f1788dfeb4538803b241477848e26de294dbe917ab56c5628732679b3abc168c2de"},
		{3072, "798f84285da30f6c295fbb73e3c093cf13164b6ad9d547a123b8d4d305f87a027caaba88e4cfd684ed7b424f37811a2e"},
		{4096, "5b684faf8d02a733945f821d9cdd170802e72103977acf66949c9382500283adc90cbec57f8e7653f8bee1cab83689de"},
		{5120, "757f23ac59db87c10d7d01cd92792f9dde979862da0b750ff22e2b61a1cd7e3456f55a41d3e3bcb52ee2007e59b8b0a1"},
		{8192, "2e070cda358b5aa00f27cca25c47381bb564f4be3a84d059805a73cbbde764ed8341f7e09915b5e7b370f9c08a743fbd"},
		{16384, "cd2312a0d87ef3c4a928df87088969a80b33d7bf3fc584bdde637b09ed808a8d821a56b78a13a6eb506db7578444abbe"},
	}
	md := &ovmf.TDVFMetadata{Sections: bookwormSections}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%dMiB", tc.mib), func(t *testing.T) {
			ram, err := TDRAM(md, Q35RAM(tc.mib<<20))
			if err != nil {
				t.Fatal(err)
			}
			hob, err := NewTDHOB(md, ram)
			if err != nil {
				t.Fatal(err)
			}
			got := Digest(sha512.Sum384(hob.Measured()))
			if want := mustDigest(t, tc.want); got != want {
				t.Errorf("TD HOB digest for %d MiB = %v, want %v", tc.mib, got, want)
			}
			back, err := ParseTDHOB(hob.Marshal(), hob.Address, hob.Size)
			if err != nil {
				t.Fatalf("ParseTDHOB(Marshal()): %v", err)
			}
			if !reflect.DeepEqual(back, hob) {
				t.Errorf("ParseTDHOB(Marshal()) = %+v, want %+v", back, hob)
			}
		})
	}
}
