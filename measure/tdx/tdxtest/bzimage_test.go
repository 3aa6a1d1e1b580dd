package tdxtest_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/measure-cc/measure/measure/authenticode"
	"github.com/measure-cc/measure/measure/bzimage"
	"github.com/measure-cc/measure/measure/tdx/tdxtest"
)

// TestBzImageSetupHeader checks that package bzimage reads the setup header and
// version string BzImage writes.
func TestBzImageSetupHeader(t *testing.T) {
	for _, version := range []string{"6.12.0-tdxtest (synthetic) #1 SMP", "6.1.0", "", strings.Repeat("9", tdxtest.MaxVersionLen)} {
		k := tdxtest.BzImage(version)
		if !bytes.Equal(k, tdxtest.BzImage(version)) {
			t.Errorf("BzImage(%q) differs between two calls", version)
		}
		h, err := bzimage.ParseSetupHeader(k)
		if err != nil {
			t.Fatalf("ParseSetupHeader(BzImage(%q)): %v", version, err)
		}
		if string(h.Header[:]) != "HdrS" || h.Version != 0x020f || h.SetupSects != 1 || h.SetupSize() != 0x400 || h.LoadFlags != 0x01 || h.XLoadFlags != 0x03 || h.BootFlag != 0xaa55 {
			t.Errorf("setup header %+v, want HdrS, protocol 0x20f, setup_sects 1 (0x400 bytes), loadflags LOADED_HIGH, xloadflags KERNEL_64|CAN_BE_LOADED_ABOVE_4G, boot_flag 0xaa55", *h)
		}
		if int(h.KernelVersion)+0x200 != tdxtest.VersionOffset {
			t.Errorf("kernel_version = %#x, want %#x", h.KernelVersion, tdxtest.VersionOffset-0x200)
		}
		if got := bzimage.VersionString(k, h); got != version {
			t.Errorf("KernelVersionString(BzImage(%q)) = %q", version, got)
		}
	}
	k := tdxtest.BzImage("6.12.0-tdxtest")
	h, err := bzimage.ParseSetupHeader(k)
	if err != nil {
		t.Fatal(err)
	}
	if rel, err := bzimage.ParseRelease(bzimage.VersionString(k, h)); err != nil || rel != (bzimage.Release{Major: 6, Minor: 12}) {
		t.Errorf("kernel release = %v, %v, want 6.12", rel, err)
	}
}

func TestBzImageRejectsBadVersion(t *testing.T) {
	for _, v := range []string{strings.Repeat("9", tdxtest.MaxVersionLen+1), "6.1\x00"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("BzImage(%q) did not panic", v)
				}
			}()
			tdxtest.BzImage(v)
		}()
	}
}

// independentAuthenticode computes the Authenticode digest of a PE32+ image without an
// attribute certificate table, following "Windows Authenticode Portable
// Executable Signature Format" (Calculating the PE Image Hash) and the
// offsets of the Microsoft PE Format specification, independently of
// authenticode.SHA384: the headers up to SizeOfHeaders without the
// CheckSum field and the Certificate Table data directory entry, the
// sections sorted by PointerToRawData, then the bytes after the last
// section.
func independentAuthenticode(t *testing.T, img []byte) [48]byte {
	t.Helper()
	le := binary.LittleEndian
	peOff := int(le.Uint32(img[0x3c:])) // e_lfanew
	if string(img[peOff:peOff+4]) != "PE\x00\x00" {
		t.Fatalf("no PE signature at %#x", peOff)
	}
	coff := peOff + 4
	numSections := int(le.Uint16(img[coff+2:]))
	optSize := int(le.Uint16(img[coff+16:]))
	opt := coff + 20
	if magic := le.Uint16(img[opt:]); magic != 0x20b {
		t.Fatalf("optional header magic %#x, want 0x20b (PE32+)", magic)
	}
	sizeOfHeaders := int(le.Uint32(img[opt+60:]))
	checksum := opt + 64
	certEntry := opt + 112 + 4*8 // data directory 4, Certificate Table
	if le.Uint64(img[certEntry:]) != 0 {
		t.Fatalf("image has a certificate table")
	}
	h := sha512.New384()
	h.Write(img[:checksum])
	h.Write(img[checksum+4 : certEntry])
	h.Write(img[certEntry+8 : sizeOfHeaders])
	type sec struct{ off, size int }
	var secs []sec
	for i := range numSections {
		s := opt + optSize + 40*i
		secs = append(secs, sec{off: int(le.Uint32(img[s+20:])), size: int(le.Uint32(img[s+16:]))})
	}
	slices.SortFunc(secs, func(a, b sec) int { return a.off - b.off })
	end := sizeOfHeaders
	for _, s := range secs {
		h.Write(img[s.off : s.off+s.size])
		end = max(end, s.off+s.size)
	}
	h.Write(img[end:])
	var d [48]byte
	h.Sum(d[:0])
	return d
}

// TestBzImageAuthenticode checks authenticode.SHA384 of the image
// against the digest computed here by the definition: CheckSum is excluded,
// the payload is not.
func TestBzImageAuthenticode(t *testing.T) {
	k := tdxtest.BzImage("6.12.0-tdxtest")
	got, err := authenticode.SHA384(k)
	if err != nil {
		t.Fatal(err)
	}
	if want := independentAuthenticode(t, k); got != want {
		t.Errorf("AuthenticodeSHA384(BzImage) = %x, want %x", got, want)
	}
	peOff := int(binary.LittleEndian.Uint32(k[0x3c:]))
	other := bytes.Clone(k)
	binary.LittleEndian.PutUint32(other[peOff+24+64:], 0x12345678) // CheckSum
	if d, err := authenticode.SHA384(other); err != nil || d != got {
		t.Errorf("AuthenticodeSHA384 with another CheckSum = %x, %v, want %x", d, err, got)
	}
	other = bytes.Clone(k)
	other[len(other)-1] ^= 1 // last byte of .text
	if d, err := authenticode.SHA384(other); err != nil || d == got {
		t.Errorf("AuthenticodeSHA384 with another payload = %x, %v, want a digest other than %x", d, err, got)
	}
}

// TestBzImageOsslsigncode signs the image with osslsigncode (SHA-384, a
// throwaway self-signed certificate) and compares the message digest it
// records and recomputes with authenticode.SHA384 of the unsigned image:
// signing changes only the CheckSum and the certificate table, which the
// digest excludes. Skipped without osslsigncode.
func TestBzImageOsslsigncode(t *testing.T) {
	tool, err := exec.LookPath("osslsigncode")
	if err != nil {
		t.Skip("osslsigncode not installed")
	}
	dir := t.TempDir()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "tdxtest"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	certP := write("cert.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	keyP := write("key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))

	k := tdxtest.BzImage("6.12.0-tdxtest")
	in, signed := write("bzImage", k), filepath.Join(dir, "bzImage.signed")
	if out, err := exec.Command(tool, "sign", "-h", "sha384", "-certs", certP, "-key", keyP, "-in", in, "-out", signed).CombinedOutput(); err != nil {
		t.Fatalf("osslsigncode sign: %v\n%s", err, out)
	}
	// verify fails on the self-signed chain but prints the digests first.
	out, _ := exec.Command(tool, "verify", "-in", signed).CombinedOutput()
	want, err := authenticode.SHA384(k)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"Current message digest", "Calculated message digest"} {
		m := regexp.MustCompile(field + `\s*:\s*([0-9A-Fa-f]{96})`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("osslsigncode verify printed no %q:\n%s", field, out)
		}
		if got := strings.ToLower(string(m[1])); got != hex.EncodeToString(want[:]) {
			t.Errorf("osslsigncode %s = %s, AuthenticodeSHA384 = %x", field, got, want)
		}
	}
}
