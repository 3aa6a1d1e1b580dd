package tdx

import (
	"crypto/sha512"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/measure-cc/measure/measure/authenticode"
	"github.com/measure-cc/measure/measure/bzimage"
	"github.com/measure-cc/measure/measure/tdx/tdxtest"
	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/ovmf/ovmftest"
)

// Values from kvinwang/dstack-mr at commit 4a167f8 (the original Go
// dstack-mr), run locally: internal.MeasureTdxQemuKernelImageData for the
// QEMU-patched kernel, internal.MeasureTdxQemu for two-pass MRTD, RTMR1 and
// RTMR2. dstack-mr models QEMU <= 10.1 (patched kernels), edk2 >=
// edk2-stable202411 (separator in RTMR1), and an EFI stub that measures
// the command line and initrd.
const (
	dstackMRTDTrixieTwoPass   = "456f07902150d008bb913c3e1e84e9297f735a6c83cd2a957a1f0a8bbedb06df188e3837ae48d32c73d473d097dc0db2"
	dstackMRTDBookwormTwoPass = "acccbcc870a381adab0d3919d90a7f268ac3b0364771f202ed4bb4e892d045b33db3b32e6924cba830a724eed443f7e1"
)

func TestMRTDTwoPassDstack(t *testing.T) {
	tests := []struct {
		file, want string
	}{
		{"debian/trixie-OVMF.fd", dstackMRTDTrixieTwoPass},
		{"debian/bookworm-OVMF.fd", dstackMRTDBookwormTwoPass},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			data := fixture(t, tc.file)
			md, err := ovmf.ParseTDVF(data)
			if err != nil {
				t.Fatal(err)
			}
			got, err := MRTD(data, md, TwoPass, nil)
			if err != nil {
				t.Fatal(err)
			}
			if want := mustDigest(t, tc.want); Digest(got) != want {
				t.Errorf("MRTD(%s, two-pass) = %v, want %v", tc.file, got, want)
			}
		})
	}
}

// TestKernelDigests checks the kernel event (Authenticode SHA-384 of the
// kernel as OVMF receives it) for QEMU <= 10.1, which patches the setup
// header, and >= 10.2, which does not.
func TestKernelDigests(t *testing.T) {
	kernel := fixture(t, "debian/vmlinuz-6.1.0-56-cloud-amd64")
	tests := []struct {
		name       string
		mem        uint64
		initrdSize uint64
		hasInitrd  bool
		unpatched  bool
		want       string
	}{
		// ../shared/vectors/tdx.tsv, tdx.ev.kernel.unpatched.
		{"unpatched", 2 << 30, 0, false, true, "85ac7473fe81fb47666a5c08d32d8e7a62af347ddae9567dff0781f954a9b06670accfcfa714830329b1e45cfa9e541c"},
		// dstack-mr MeasureTdxQemuKernelImageData.
		{"patched 2G", 2 << 30, 0, false, false, "a1544cf639a5c406b9598e4a2ba6db2d46a9129ba009d3c17b2f9229bd319a56baf1f1fe4b8beef812373a73e3466551"},
		{"patched 512M", 512 << 20, 0, false, false, "a1544cf639a5c406b9598e4a2ba6db2d46a9129ba009d3c17b2f9229bd319a56baf1f1fe4b8beef812373a73e3466551"},
		{"patched 2G initrd 1MiB", 2 << 30, 1 << 20, true, false, "049cc0fcb1ea19b799cba260167b2fce7c347282a95ff2bf4d6a15e0f0056004f7ba59a8d22c9ab9874e59b0822b9113"},
		{"patched 4G initrd 1MiB", 4 << 30, 1 << 20, true, false, "049cc0fcb1ea19b799cba260167b2fce7c347282a95ff2bf4d6a15e0f0056004f7ba59a8d22c9ab9874e59b0822b9113"},
		{"patched 2G initrd 724B", 2 << 30, 724, true, false, "07aa359ae991e9d6d9ddc339d2fba33991e2ca0dd98c6b5dda70a2d8fd4cfaffc9da89162b9d6a91c582136167a5c9d6"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := kernel
			if !tc.unpatched {
				var err error
				k, err = bzimage.Patch(kernel, bzimage.LoaderPatch{Below4G: Q35RAM(tc.mem)[0].Length, HasInitrd: tc.hasInitrd, InitrdSize: tc.initrdSize})
				if err != nil {
					t.Fatal(err)
				}
			}
			got, err := authenticode.SHA384(k)
			if err != nil {
				t.Fatal(err)
			}
			if want := mustDigest(t, tc.want); Digest(got) != want {
				t.Errorf("kernel digest = %v, want %v", got, want)
			}
		})
	}
}

// withVersion returns a copy of kernel whose setup header version string
// reads v (the Authenticode digest changes, RTMR2 does not depend on it).
func withVersion(t *testing.T, kernel []byte, v string) []byte {
	t.Helper()
	h, err := bzimage.ParseSetupHeader(kernel)
	if err != nil {
		t.Fatal(err)
	}
	k := append([]byte(nil), kernel...)
	off := bzimage.VersionBase + int(h.KernelVersion)
	copy(k[off:], v+"\x00")
	return k
}

func TestMeasureRTMRsDstack(t *testing.T) {
	fw := fixture(t, "debian/trixie-OVMF.fd")
	kernel := fixture(t, "debian/vmlinuz-6.1.0-56-cloud-amd64")
	initrd := fixture(t, "test-initrd.cpio")
	img, err := ovmf.Parse(fw)
	if err != nil {
		t.Fatal(err)
	}
	blob := &Blob{Size: uint64(len(initrd)), SHA384: sha512.Sum384(initrd)}
	tests := []struct {
		name      string
		kernel    []byte
		qemu      QEMUVersion
		wantRTMR1 string
		wantRTMR2 string
	}{
		// dstack-mr MeasureTdxQemu(trixie OVMF.fd, kernel, test-initrd.cpio,
		// 2048, 1, "console=ttyS0 initrd=initrd"); its RTMR2 assumes a stub
		// that measures, so the kernel here claims 6.12.
		{"patched, stub measures", withVersion(t, kernel, "6.12.0-test"), QEMUVersion{10, 1},
			"", "69fff76a3b56711a4915d350694f7c39b8f3b3be96f1fb293e58151085bfd865e9774a8a32fab6fecc7bf0dbe9206f3a"},
		{"patched, 6.1 stub", kernel, QEMUVersion{10, 1},
			"c590b2a156cde15db71a260139bd554f7a1aac4cafe596c6c7feaa3dd8a9f168864938103e1ce05e5fe2f800a6fa41d9", strings.Repeat("0", 96)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Measure(img, Config{PageAddOrder: SinglePass, QEMU: tc.qemu, Memory: 2 << 30, Kernel: tc.kernel, Initrd: blob, Cmdline: "console=ttyS0"})
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range map[int]string{1: tc.wantRTMR1, 2: tc.wantRTMR2} {
				if want == "" {
					continue
				}
				if res.RTMRs[i] == nil {
					t.Fatalf("RTMR%d not computable: %s", i, res.Reasons[i])
				}
				if got := res.RTMRs[i].String(); got != want {
					t.Errorf("RTMR%d = %s, want %s", i, got, want)
				}
			}
			if res.RTMRs[0] != nil || res.RTMRs[3] == nil || *res.RTMRs[3] != (Digest{}) {
				t.Errorf("RTMR0 = %v (want nil without ACPI tables), RTMR3 = %v (want zero)", res.RTMRs[0], res.RTMRs[3])
			}
		})
	}
}

// TestRTMR0EventDigests checks the constant RTMR0 events of a fresh
// variable store against the digests oasisprotocol/cli publishes in its
// event log vector (build/measurement/tdx_qemu_test.go, TestMeasureLog).
func TestRTMR0EventDigests(t *testing.T) {
	data := ovmftest.MustTDVFImage(ovmftest.TDVF{Size: 1 << 20, VarStore: true})
	img, err := ovmf.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	// The boot variables are those of a direct boot: a kernel is needed.
	res, err := Measure(img, Config{QEMU: DefaultQEMUVersion, Memory: 1 << 30, Kernel: tdxtest.BzImage("6.12.0")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range res.Events {
		if e.RTMR == 0 && (e.Kind == EventEFIVariable || e.Kind == EventSeparator || e.Kind == EventBootVariable) {
			got = append(got, e.Digest.String())
		}
	}
	want := []string{
		"9dc3a1f80bcec915391dcda5ffbb15e7419f77eab462bbf72b42166fb70d50325e37b36f93537a863769bcf9bedae6fb", // SecureBoot
		"6f2e3cbc14f9def86980f5f66fd85e99d63e69a73014ed8a5633ce56eca5b64b692108c56110e22acadcef58c3250f1b", // PK
		"d607c0efb41c0d757d69bca0615c3a9ac0b1db06c557d992e906c6b7dee40e0e031640c7bfd7bcd35844ef9edeadc6f9", // KEK
		"08a74f8963b337acb6c93682f934496373679dd26af1089cb4eaf0c30cf260a12e814856385ab8843e56a9acea19e127", // db
		"18cc6e01f0c6ea99aa23f8a280423e94ad81d96d0aeb5180504fc0f7a40cb3619dd39bd6a95ec1680a86ed6ab0f9828d", // dbx
		"394341b7182cd227c5c6b07ef8000cdfd86136c4292b8e576573ad7ed9ae41019f5818b4b971c9effc60e1ad9f1289f0", // separator
		"1dd6f7b457ad880d840d41c961283bab688e94e4b59359ea45686581e90feccea3c624b1226113f824f315eb60ae0a7c", // BootOrder
		"23ada07f5261f12f34a0bd8e46760962d6b4d576a416f1fea1c64bc656b1d28eacf7047ae6e967c58fd2a98bfa74c298", // Boot0000
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RTMR0 variable, separator and boot events = %v, want %v", got, want)
	}
}

// TestReplayOasis checks RTMR extension against oasisprotocol/cli's
// TestMeasureLog vectors.
func TestReplayOasis(t *testing.T) {
	tests := []struct {
		want string
		log  []string
	}{
		{"04d1279ff61eaa5ee548d1a3b02933efcb59d8d16f6f11eb31dc573261b1bdb5a9817a306f7509dbb4b3f6979ded7192",
			[]string{"98a24811a887cc59e301bff5a3c11f118ebabbace224826e5c1365c2762f24e29c08fb03fc215ce42f9e11f7804c22f0"}},
		{"bfad4b857a0ee57662ef1094ad68fb2411b445bc7a471f0e40a68e283206d43e9283d8d65c0dacf9fb8def007f5d2ffd", []string{
			"5afc9992e9dda3885baf2ee3dca8de0f3e8def2dbd508f25eb41b820216b996f96ebdb0411c5b43f09e8248965a85e62",
			"77a0dab2312b4e1e57a84d865a21e5b2ee8d677a21012ada819d0a98988078d3d740f6346bfe0abaa938ca20439a8d71",
			"214b0bef1379756011344877743fdc2a5382bac6e70362d624ccf3f654407c1b4badf7d8f9295dd3dabdef65b27677e0",
			"0a2e01c85deae718a530ad8c6d20a84009babe6c8989269e950d8cf440c6e997695e64d455c4174a652cd080f6230b74",
		}},
	}
	for i, tc := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			var evs []Event
			for _, h := range tc.log {
				evs = append(evs, Event{RTMR: 2, Digest: mustDigest(t, h)})
			}
			if got := Replay(evs)[2]; got != mustDigest(t, tc.want) {
				t.Errorf("Replay = %v, want %s", got, tc.want)
			}
		})
	}
}

// TestCmdlineDigests checks the LoadOptions digest against
// oasisprotocol/cli's TestMeasureTdxKernelCmdline ("as computed by OVMF").
func TestCmdlineDigests(t *testing.T) {
	tests := []struct {
		cmdline    string
		initrdSize uint64
		want       string
	}{
		{"console=ttyS0 oasis.stage2.roothash=0c3e6c3235d0f04e68b3bac64e6da3766063d13d689cc3dda006e68bd6d61ce1 oasis.stage2.hash_offset=20230144", 0, "cafcc332a983b2e8e8b50aec8398e82a61c36cc4b6fa3a40e18c294611306c06f70facf7ca8a348acd16c787c3751574"},
		{"foo bar", 0, "ae062a0d46d7899081d8068d40d5035c134c77f789c7f894c4b5d92297731bbe53b41b7868edb686ba85757a9e12c5bf"},
		// OVMF passes no LoadOptions for an empty command line without an
		// initrd (X86QemuLoadImageLib), so the stub measures nothing; oasis
		// hashes a lone NUL, 1dd6f7b4...
		{"", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.cmdline, func(t *testing.T) {
			opts := LoadOptions(tc.cmdline, tc.initrdSize)
			if tc.want == "" {
				if opts != nil {
					t.Errorf("LoadOptions(%q) = %x, want none", tc.cmdline, opts)
				}
				return
			}
			if got := sha384(opts); got != mustDigest(t, tc.want) {
				t.Errorf("digest of LoadOptions(%q) = %v, want %s", tc.cmdline, got, tc.want)
			}
		})
	}
}
