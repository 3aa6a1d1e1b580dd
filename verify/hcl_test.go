package verify_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/measure-cc/measure/verify"
)

// hclTime is when every recorded VCEK, AMD's roots and the TDX quote's PCK
// chain are valid.
var hclTime = time.Date(2025, time.June, 1, 0, 0, 0, 0, time.UTC)

// recordedHCL are the recorded Azure HCL reports (testdata/README.md,
// "Azure HCL reports"). chipID and tcb are the VCEK certificate's HWID and
// SPL extensions (openssl asn1parse), which the origin's tests require
// CHIP_ID and REPORTED_TCB to equal; userData is the origin test's.
var recordedHCL = []struct {
	file             string
	size, reportSize int
	typ              verify.HCLType
	vcek             string
	productLine      string
	chipID           string
	tcb              verify.TCB
	userData         string
}{
	{file: "hcl-snp-milan.bin", size: 2600, reportSize: 2346, typ: verify.HCLTypeSNP, vcek: "hcl-snp-milan-vcek.pem", productLine: "Milan",
		chipID: "19752a447db501a32ade46428a46e92639bd3515dbb45e2e67bbcb0934ffcf1f3e3c004ccb4a99c9fa7e4ffb09da6b324ac58acedaf679f24ba7db5f838c6cca",
		tcb:    verify.TCB{Bootloader: 3, TEE: 0, SNP: 8, Microcode: 115}, userData: strings.Repeat("00", 64)},
	{file: "hcl-snp-milan-v3.bin", size: 2600, reportSize: 2346, typ: verify.HCLTypeSNP, vcek: "hcl-snp-milan-v3-vcek.der", productLine: "Milan",
		chipID: "2e0e62a0e6f39bc491381b091ff79cfe03ad0b42a6bbe764fd408923963d9097440365dbf8c3412c8da4969024d81b19c1d4f12197f460bf2b5283a25e32f684",
		tcb:    verify.TCB{Bootloader: 4, TEE: 0, SNP: 24, Microcode: 219},
		// trustee's test_verify_user_data: user-data begins with the
		// evidence's report data.
		userData: "982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9aa398f647caa2338748cd0fd9f5f819ef" + strings.Repeat("00", 16)},
	{file: "hcl-snp-genoa.bin", size: 2600, reportSize: 2436, typ: verify.HCLTypeSNP, vcek: "hcl-snp-genoa-vcek.pem", productLine: "Genoa",
		chipID: "0506ffba875e939c2729d20c74eb72b4c5ba6bf7ea1faaa640141f12c6d64782fb487f68ce69dcd021e914cc0d9244327bc121f0242d6470903ad1d4aaea4ad1",
		tcb:    verify.TCB{Bootloader: 10, TEE: 0, SNP: 23, Microcode: 84}, userData: strings.Repeat("00", 64)},
	{file: "hcl-snp-2048.bin", size: 2048, reportSize: 1819, typ: verify.HCLTypeSNP},
	{file: "hcl-tdx.bin", size: 2600, reportSize: 2437, typ: verify.HCLTypeTDX, userData: strings.Repeat("00", 64)},
}

func TestHCLLayout(t *testing.T) {
	var r verify.TDReport
	tests := []struct {
		name      string
		got, want uintptr
	}{
		{"HCLHeader", uintptr(binary.Size(verify.HCLHeader{})), 0x20},
		{"HCLRequestData", uintptr(binary.Size(verify.HCLRequestData{})), 0x14},
		{"TDREPORT_STRUCT", uintptr(binary.Size(r)), 1024},
		{"REPORTMACSTRUCT", uintptr(binary.Size(r.ReportMAC)), 256},
		{"TEE_TCB_INFO", uintptr(binary.Size(r.TEETCBInfo)), 239},
		{"TDINFO_STRUCT", uintptr(binary.Size(r.TDInfo)), 512},
		// TDX module ABI, TDREPORT_STRUCT and its parts.
		{"TEE_TCB_INFO at", unsafe.Offsetof(r.TEETCBInfo), 0x100},
		{"TDINFO at", unsafe.Offsetof(r.TDInfo), 0x200},
		{"CPUSVN", unsafe.Offsetof(r.ReportMAC.CPUSVN), 0x10},
		{"REPORTDATA", unsafe.Offsetof(r.ReportMAC.ReportData), 0x80},
		{"MAC", unsafe.Offsetof(r.ReportMAC.MAC), 0xe0},
		{"MRSEAM", unsafe.Offsetof(r.TEETCBInfo.MRSEAM), 0x18},
		{"TEE_TCB_SVN2", unsafe.Offsetof(r.TEETCBInfo.TEETCBSVN2), 0x80},
		{"MRTD", unsafe.Offsetof(r.TDInfo.MRTD), 0x10},
		{"RTMR", unsafe.Offsetof(r.TDInfo.RTMR), 0xd0},
		{"SERVTD_HASH", unsafe.Offsetof(r.TDInfo.ServTDHash), 0x190},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s = %#x, want %#x", tc.name, tc.got, tc.want)
		}
	}
}

func TestParseRecordedHCLReports(t *testing.T) {
	for _, tc := range recordedHCL {
		t.Run(tc.file, func(t *testing.T) {
			b := read(t, "testdata/"+tc.file)
			if len(b) != tc.size {
				t.Fatalf("%s is %d bytes, want %d", tc.file, len(b), tc.size)
			}
			h, err := verify.ParseHCLReport(b)
			if err != nil {
				t.Fatalf("ParseHCLReport: %v", err)
			}
			if h.Type() != tc.typ || int(h.Header.ReportSize) != tc.reportSize || h.Padding() != tc.size-tc.reportSize || !bytes.Equal(h.Raw(), b[:tc.reportSize]) {
				t.Errorf("type %v, report size %d, padding %d; want %v, %d, %d", h.Type(), h.Header.ReportSize, h.Padding(), tc.typ, tc.reportSize, tc.size-tc.reportSize)
			}
			if h.Request.HashType != verify.HCLHashSHA256 {
				t.Errorf("hash type %v, want SHA-256", h.Request.HashType)
			}
			// The origins' tests: SHA-256 of the runtime data is REPORT_DATA[0:32].
			if err := h.CheckBinding(); err != nil {
				t.Errorf("CheckBinding: %v", err)
			}
			if got := h.RuntimeDataDigest(); !bytes.Equal(got, h.ReportData()[:32]) {
				t.Errorf("digest %x, REPORT_DATA %x", got, h.ReportData())
			}
			if got := MarshalHCL(h); !bytes.Equal(got, h.Raw()) {
				t.Errorf("MarshalHCLReport(parsed) differs from the report")
			}
			ak := h.Claims().AK()
			if ak == nil {
				t.Fatal("no HCLAkPub")
			}
			if p, ok := ak.Public.(*rsa.PublicKey); !ok || p.N.BitLen() != 2048 || p.E != 65537 {
				t.Errorf("AK %T %v, want RSA-2048, e=65537", ak.Public, ak.Public)
			}
			if tc.userData != "" && hex.EncodeToString(h.Claims().UserData) != tc.userData {
				t.Errorf("user-data %x, want %s", h.Claims().UserData, tc.userData)
			}
			if h.Claims().VMConfiguration.SecureBoot == nil || !*h.Claims().VMConfiguration.SecureBoot || h.Claims().VMConfiguration.VMUniqueID == "" {
				t.Errorf("vm-configuration %s: want secure-boot true and a vmUniqueId", h.Claims().VMConfiguration)
			}
			if tc.typ == verify.HCLTypeTDX {
				if h.Platform() != "tdx" || h.SNP() != nil || h.TD() == nil || !bytes.Equal(h.TD().Marshal(), b[0x20:0x420]) {
					t.Errorf("TDX: platform %q, TD report round trip", h.Platform())
				}
				return
			}
			r := h.SNP()
			if h.Platform() != "sev-snp" || r == nil || !bytes.Equal(r.Raw(), b[0x20:0x20+verify.SNPReportSize]) {
				t.Fatalf("SEV-SNP: platform %q", h.Platform())
			}
			if r.VMPL() != 0 {
				t.Errorf("VMPL %d, want 0 (trustee's verify_snp_report)", r.VMPL())
			}
			if tc.vcek == "" {
				return
			}
			if got := r.TCBs()["REPORTED_TCB"]; got != tc.tcb {
				t.Errorf("REPORTED_TCB %v, want %v", got, tc.tcb)
			}
			if got := fieldValue(r.Fields(), "CHIP_ID"); got != tc.chipID {
				t.Errorf("CHIP_ID %s, want %s", got, tc.chipID)
			}
			hw, err := verify.VerifySNPSignature(r, verify.SNPCerts{VCEK: read(t, "testdata/"+tc.vcek)}, hclTime)
			if err != nil {
				t.Fatalf("VerifySNPSignature: %v", err)
			}
			if !hw.Verified || !hw.VendorRoot || hw.ProductLine != tc.productLine || hw.CertifiedTCB == nil || *hw.CertifiedTCB != tc.tcb {
				t.Errorf("hardware %+v, want verified to AMD's %s root, TCB %v certified", hw, tc.productLine, tc.tcb)
			}
		})
	}
}

func fieldValue(f []verify.Field, name string) string {
	for _, x := range f {
		if x.Name == name {
			return x.Value
		}
	}
	return ""
}

// MarshalHCL lays a parsed report out again.
func MarshalHCL(h *verify.HCLReport) []byte {
	return verify.MarshalHCLReport(h.Header, h.HardwareReport(), h.Request, h.RuntimeData())
}

// TestHCLAttestationKey: the AK read from the runtime claims verifies the
// vTPM quote that trustee's tests verify with it (RSASSA-PKCS1-v1_5,
// SHA-256, over the TPMS_ATTEST message).
func TestHCLAttestationKey(t *testing.T) {
	for _, tc := range []struct{ report, quote string }{
		{"hcl-snp-milan.bin", "hcl-snp-milan-tpm-quote.json"},
		{"hcl-tdx.bin", "hcl-tdx-tpm-quote.json"},
	} {
		t.Run(tc.report, func(t *testing.T) {
			h, err := verify.ParseHCLReport(read(t, "testdata/"+tc.report))
			if err != nil {
				t.Fatal(err)
			}
			var q struct{ Signature, Message string }
			if err := json.Unmarshal(read(t, "testdata/"+tc.quote), &q); err != nil {
				t.Fatal(err)
			}
			sig, _ := hex.DecodeString(q.Signature)
			msg, _ := hex.DecodeString(q.Message)
			sum := sha256.Sum256(msg)
			ak := h.Claims().AK().Public.(*rsa.PublicKey)
			if err := rsa.VerifyPKCS1v15(ak, crypto.SHA256, sum[:], sig); err != nil {
				t.Errorf("the vTPM quote does not verify with HCLAkPub: %v", err)
			}
			sig[0] ^= 1
			if rsa.VerifyPKCS1v15(ak, crypto.SHA256, sum[:], sig) == nil {
				t.Error("a changed signature verifies")
			}
		})
	}
}

func TestHCLTDXQuote(t *testing.T) {
	raw := read(t, "testdata/hcl-tdx.bin")
	h, err := verify.ParseHCLReport(raw)
	if err != nil {
		t.Fatal(err)
	}
	q, err := verify.ParseTDXQuote(read(t, "testdata/hcl-tdx-quote.dat"))
	if err != nil {
		t.Fatal(err)
	}
	// trustee's test_verify_hcl_var_data: SHA-256 of the runtime data is
	// the quote's REPORTDATA[0:32].
	if d := h.RuntimeDataDigest(); !bytes.Equal(q.ReportData()[:32], d) {
		t.Errorf("quote REPORTDATA %x, digest %x", q.ReportData(), d)
	}
	if err := h.Check(q); err != nil {
		t.Errorf("Check: %v", err)
	}
	if got, want := h.Registers(), q.Registers(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("TD report registers %v, quote's %v", got, want)
	}
	hw, err := verify.VerifyTDXSignature(q, nil, hclTime)
	if err != nil || !hw.Verified || !hw.VendorRoot {
		t.Errorf("VerifyTDXSignature: %+v, %v", hw, err)
	}

	other, err := verify.ParseTDXQuote(read(t, "testdata/tdx-quote-v4.dat"))
	if err != nil {
		t.Fatal(err)
	}
	mrtd := append([]byte(nil), raw...)
	mrtd[0x20+0x200+0x10] ^= 1 // TDINFO.MRTD
	hm, err := verify.ParseHCLReport(mrtd)
	if err != nil {
		t.Fatal(err)
	}
	tampered := append([]byte(nil), raw...)
	tampered[0x880]++ // trustee's test_verify_hcl_var_data_failure
	ht, err := verify.ParseHCLReport(tampered)
	if err != nil {
		t.Fatal(err)
	}
	snp, err := verify.ParseHCLReport(read(t, "testdata/hcl-snp-milan.bin"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		h    *verify.HCLReport
		q    *verify.TDXQuote
		want string
	}{
		{"another TD's quote", h, other, "MRTD is 6363b804"},
		{"MRTD changed in the TD report", hm, q, "MRTD is 024a32b0"},
		{"runtime data changed", ht, q, "REPORTDATA[0:32] is 9734504f"},
		{"no quote", h, nil, "MAC'd by the CPU, not signed"},
		{"SEV-SNP report and a quote", snp, q, "holds an SEV-SNP report"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.h.Check(tc.q)
			if !errors.Is(err, verify.ErrBinding) || !errors.Is(err, verify.ErrHardwareSignature) || !strings.Contains(fmt.Sprint(err), tc.want) {
				t.Errorf("Check = %v, want ErrBinding (an ErrHardwareSignature) containing %q", err, tc.want)
			}
		})
	}
	if err := hm.CheckBinding(); err != nil {
		t.Errorf("CheckBinding after an MRTD change = %v, want nil: REPORTDATA still binds the runtime data", err)
	}
}

// TestHCLBindingTampered: changing one byte of the runtime data (trustee's
// test_verify_report_data_failure) breaks the binding; changing
// REPORTED_TCB.SNP (its test_verify_snp_report_failure) breaks the VCEK's.
func TestHCLBindingTampered(t *testing.T) {
	raw := read(t, "testdata/hcl-snp-milan.bin")
	b := append([]byte(nil), raw...)
	b[0x06e0]++
	h, err := verify.ParseHCLReport(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.CheckBinding(); !errors.Is(err, verify.ErrBinding) || !strings.Contains(err.Error(), "REPORT_DATA[0:32] is b3fbad65") {
		t.Errorf("CheckBinding = %v, want ErrBinding naming REPORT_DATA", err)
	}
	if err := h.Check(nil); !errors.Is(err, verify.ErrHardwareSignature) {
		t.Errorf("Check = %v, want an ErrHardwareSignature", err)
	}
	if !strings.Contains(fieldValue(h.Fields(), "HCL_BINDING"), "FAILS") {
		t.Errorf("HCL_BINDING %q, want FAILS", fieldValue(h.Fields(), "HCL_BINDING"))
	}

	b = append([]byte(nil), raw...)
	b[0x01a6] = 0
	h, err = verify.ParseHCLReport(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify.VerifySNPSignature(h.SNP(), verify.SNPCerts{VCEK: read(t, "testdata/hcl-snp-milan-vcek.pem")}, hclTime); !errors.Is(err, verify.ErrHardwareSignature) {
		t.Errorf("VerifySNPSignature of a changed REPORTED_TCB = %v, want ErrHardwareSignature", err)
	}
}

// synthHCL builds an SEV-SNP HCL report around the recorded Milan report
// with runtime data rt, REPORT_DATA set by setRD (nil: the digest of rt with
// hashType), then edit applied to the bytes.
func synthHCL(t testing.TB, hashType verify.HCLHashType, rt []byte, setRD func(rd []byte), edit func([]byte) []byte) []byte {
	t.Helper()
	snp := append([]byte(nil), read(t, "testdata/hcl-snp-milan.bin")[0x20:0x20+verify.SNPReportSize]...)
	rd := snp[0x50:0x90]
	clear(rd)
	if setRD != nil {
		setRD(rd)
	} else {
		var d []byte
		switch hashType {
		case verify.HCLHashSHA384:
			s := sha512.Sum384(rt)
			d = s[:]
		case verify.HCLHashSHA512:
			s := sha512.Sum512(rt)
			d = s[:]
		default:
			s := sha256.Sum256(rt)
			d = s[:]
		}
		copy(rd, d)
	}
	hdr, req := verify.NewHCLHeaders(verify.HCLTypeSNP, hashType, len(rt))
	b := verify.MarshalHCLReport(hdr, snp, req, rt)
	if edit != nil {
		b = edit(b)
	}
	return b
}

const akJWK = `{"kid":"HCLAkPub","key_ops":["sign"],"kty":"RSA","e":"AQAB","n":"qR7LqAABDczZDIJxh4YuOOp_0EiqZ0TvLsy8ZoLd3OMHs-1mLF4rNkW4d5vHgF5UwOHcLIMWnrjHr5cPop_pvnapqYvv1hQVBwhfOV4EedT27Fp2N2Jrj54JVc500a5s8ogiOTTm3bJ86VCoKGn3Ou2WMPWGYbIOTInVfJYsASUXeihOBO6r_DFDjzNP-XOW_YinXf7Xj_Gbcp0Pngwz8OHqnQrb9cyMe-sSbcUVdHoaj3CcAmjGvvhpyIzKxCjHg_LqUBmVx5xtKfZSreeerQvOsoDRKcx2_S-oDt6eP1jsXFldIpqbSM34qA3gBkve6xy1jVEUrclNgxFtMI5PDQ"}`

func claims(keys, rest string) []byte {
	return []byte(`{"keys":[` + keys + `],"vm-configuration":{"console-enabled":false,"secure-boot":true,"tpm-enabled":true,"vmUniqueId":"X"}` + rest + `}`)
}

func TestHCLHashTypes(t *testing.T) {
	rt := claims(akJWK, `,"user-data":"cafe"`)
	for _, ht := range []verify.HCLHashType{verify.HCLHashSHA256, verify.HCLHashSHA384, verify.HCLHashSHA512} {
		t.Run(ht.String(), func(t *testing.T) {
			h, err := verify.ParseHCLReport(synthHCL(t, ht, rt, nil, nil))
			if err != nil {
				t.Fatal(err)
			}
			if err := h.CheckBinding(); err != nil {
				t.Errorf("CheckBinding: %v", err)
			}
			if got := hex.EncodeToString(h.Claims().UserData); got != "cafe" {
				t.Errorf("user-data %s, want cafe", got)
			}
			// The same digest with a byte after it: REPORT_DATA must be
			// zero after the digest.
			n := len(h.RuntimeDataDigest())
			if n == 64 {
				return
			}
			b := synthHCL(t, ht, rt, nil, func(b []byte) []byte { b[0x20+0x50+n] = 1; return b })
			h, err = verify.ParseHCLReport(b)
			if err != nil {
				t.Fatal(err)
			}
			if err := h.CheckBinding(); !errors.Is(err, verify.ErrBinding) || !strings.Contains(err.Error(), fmt.Sprintf("REPORT_DATA[%d:64] is 01", n)) {
				t.Errorf("CheckBinding = %v, want ErrBinding for the byte after the digest", err)
			}
		})
	}
	// A SHA-256 digest where SHA-384 is declared.
	b := synthHCL(t, verify.HCLHashSHA384, rt, func(rd []byte) { s := sha256.Sum256(rt); copy(rd, s[:]) }, nil)
	if h, err := verify.ParseHCLReport(b); err != nil || !errors.Is(h.CheckBinding(), verify.ErrBinding) {
		t.Errorf("SHA-256 digest for hash type SHA-384: parse %v, binding %v; want a binding failure", err, h.CheckBinding())
	}
}

func TestHCLECKey(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	x, y := make([]byte, 48), make([]byte, 48)
	k.X.FillBytes(x)
	k.Y.FillBytes(y)
	enc := base64.RawURLEncoding.EncodeToString
	jwk := fmt.Sprintf(`{"kid":"HCLAkPub","kty":"EC","crv":"P-384","x":%q,"y":%q}`, enc(x), enc(y))
	h, err := verify.ParseHCLReport(synthHCL(t, verify.HCLHashSHA256, claims(jwk, ""), nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := h.Claims().AK().Public.(*ecdsa.PublicKey); !ok || !p.Equal(&k.PublicKey) {
		t.Errorf("AK %v, want the generated P-384 key", h.Claims().AK().Public)
	}
	if h.Claims().UserData != nil {
		t.Errorf("user-data %x, want none", h.Claims().UserData)
	}
}

func TestParseHCLReportErrors(t *testing.T) {
	rt := claims(akJWK, "")
	good := synthHCL(t, verify.HCLHashSHA256, rt, nil, nil)
	put := func(off int, v uint32) func([]byte) []byte {
		return func(b []byte) []byte { binary.LittleEndian.PutUint32(b[off:], v); return b }
	}
	edit := func(f func([]byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	withClaims := func(s string) []byte { return synthHCL(t, verify.HCLHashSHA256, []byte(s), nil, nil) }
	tdx := read(t, "testdata/hcl-tdx.bin")
	tdxEdit := func(off int, v byte) []byte { b := append([]byte(nil), tdx...); b[off] = v; return b }
	end := len(good)
	tests := []struct {
		name string
		b    []byte
		want error
		msg  string
	}{
		{"empty", nil, verify.ErrTruncated, "is 0 bytes"},
		{"header only", good[:0x20], verify.ErrTruncated, "is 32 bytes, want at least 1236"},
		{"signature", edit(put(0, 0x41424344)), verify.ErrMalformed, "signature 0x41424344"},
		{"header version 3", edit(put(4, 3)), verify.ErrUnsupported, "header version 3"},
		{"key release request", edit(put(0xc, 1)), verify.ErrUnsupported, "request type 1"},
		{"request data version 2", edit(put(0x4c4, 2)), verify.ErrUnsupported, "request data version 2"},
		{"VBS report", edit(put(0x4c8, 1)), verify.ErrUnsupported, "type 1 (VBS)"},
		{"report type 9", edit(put(0x4c8, 9)), verify.ErrMalformed, "type 9 (unknown)"},
		{"hash type 0", edit(put(0x4cc, 0)), verify.ErrMalformed, "hash type 0"},
		{"data size", edit(put(0x4c0, 21)), verify.ErrMalformed, "request data size 21"},
		{"no runtime data", edit(func(b []byte) []byte { put(0x4c0, 20)(b); put(0x4d0, 0)(b); return put(8, 0x4d4)(b) }), verify.ErrMalformed, "no runtime data"},
		{"report size", edit(put(8, uint32(end+1))), verify.ErrMalformed, fmt.Sprintf("report size %d at 0x8, want %d", end+1, end)},
		{"runtime data cut", good[:end-1], verify.ErrTruncated, fmt.Sprintf("is %d bytes, its report size at 0x8 is %d", end-1, end)},
		{"huge runtime data", edit(func(b []byte) []byte { put(0x4d0, 0xffffffff)(b); put(0x4c0, 0x13)(b); return b }), verify.ErrMalformed, "request data size 19"},
		{"padding not zero", append(append(append([]byte(nil), good...), 0, 0), 7), verify.ErrMalformed, fmt.Sprintf("byte 0x7 at %#x", end+2)},
		{"SEV-SNP report version 0", edit(put(0x20, 0)), verify.ErrMalformed, "SEV-SNP report"},
		{"TD report type", tdxEdit(0x20, 0x80), verify.ErrMalformed, "REPORTTYPE.TYPE 0x80"},
		{"TD report version 2", tdxEdit(0x22, 2), verify.ErrUnsupported, "REPORTTYPE.VERSION 2"},
		{"byte after the TD report", tdxEdit(0x420, 1), verify.ErrMalformed, "byte 0x1 at 0x420"},
		{"runtime data not JSON", withClaims("not json"), verify.ErrMalformed, "runtime data at 0x4d4"},
		{"runtime data an array", withClaims("[1]"), verify.ErrMalformed, "not a JSON object"},
		{"data after the object", withClaims(string(rt) + "{}"), verify.ErrMalformed, "after the JSON object"},
		{"duplicate member", withClaims(`{"keys":[` + akJWK + `],"user-data":"00","user-data":"11"}`), verify.ErrMalformed, `"user-data" appears twice`},
		{"duplicate nested member", withClaims(`{"keys":[` + strings.Replace(akJWK, `"kty":"RSA"`, `"kty":"RSA","kty":"EC"`, 1) + `]}`), verify.ErrMalformed, `"kty" appears twice`},
		{"not UTF-8", withClaims("{\"keys\":[],\"x\":\"\xff\"}"), verify.ErrMalformed, "not UTF-8"},
		{"no AK", withClaims(`{"keys":[]}`), verify.ErrMalformed, `no key with kid "HCLAkPub"`},
		{"keys spelled Keys", withClaims(`{"Keys":[` + akJWK + `]}`), verify.ErrMalformed, `no key with kid "HCLAkPub"`},
		{"kid spelled KID", withClaims(`{"keys":[` + strings.Replace(akJWK, `"kid"`, `"KID"`, 1) + `]}`), verify.ErrMalformed, `no key with kid "HCLAkPub"`},
		{"keys an object", withClaims(`{"keys":{}}`), verify.ErrMalformed, `"keys"`},
		{"AK of type oct", withClaims(`{"keys":[{"kid":"HCLAkPub","kty":"oct","k":"AA"}]}`), verify.ErrUnsupported, `kty "oct"`},
		{"AK modulus not base64url", withClaims(`{"keys":[{"kid":"HCLAkPub","kty":"RSA","e":"AQAB","n":"a+b/"}]}`), verify.ErrMalformed, "n is not base64url"},
		{"AK exponent even", withClaims(`{"keys":[{"kid":"HCLAkPub","kty":"RSA","e":"AQAA","n":"qR7L"}]}`), verify.ErrMalformed, "RSA exponent 010000"},
		{"EC point off the curve", withClaims(`{"keys":[{"kid":"HCLAkPub","kty":"EC","crv":"P-256","x":"` + strings.Repeat("A", 43) + `","y":"` + strings.Repeat("A", 43) + `"}]}`), verify.ErrMalformed, `kid "HCLAkPub"`},
		{"user-data not hex", withClaims(`{"keys":[` + akJWK + `],"user-data":"xyz"}`), verify.ErrMalformed, "not hex"},
		{"secure-boot a string", withClaims(`{"keys":[` + akJWK + `],"vm-configuration":{"secure-boot":"yes"}}`), verify.ErrMalformed, `"secure-boot"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := verify.ParseHCLReport(tc.b)
			if !errors.Is(err, tc.want) || !strings.Contains(fmt.Sprint(err), tc.msg) {
				t.Errorf("ParseHCLReport = %v, %v; want %v containing %q", h, err, tc.want, tc.msg)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q has more than one line", err)
			}
		})
	}
	if _, err := verify.ParseHCLReport(good); err != nil {
		t.Errorf("the unedited synthetic report: %v", err)
	}
}

// TestParseHCLDetect: Parse with KindAny tells an HCL report by its
// signature, in binary, hex or base64.
func TestParseHCLDetect(t *testing.T) {
	raw := read(t, "testdata/hcl-snp-genoa.bin")
	for name, b := range map[string][]byte{
		"binary": raw,
		"hex":    []byte(hex.EncodeToString(raw) + "\n"),
		"base64": []byte(base64.StdEncoding.EncodeToString(raw)),
	} {
		t.Run(name, func(t *testing.T) {
			ev, err := verify.Parse(b, verify.KindAny)
			if err != nil {
				t.Fatal(err)
			}
			h, ok := ev.(*verify.HCLReport)
			if !ok || h.Platform() != "sev-snp" || len(h.Registers()) != 1 || h.Registers()[0].Hex != hex.EncodeToString(raw[0x20+0x90:0x20+0xc0]) {
				t.Errorf("Parse = %T %v", ev, ev.Registers())
			}
			if got := fieldValue(h.Fields(), "HCL_BINDING"); !strings.HasPrefix(got, "holds") {
				t.Errorf("HCL_BINDING %q", got)
			}
		})
	}
}

// FuzzParseHCLReport: untrusted HCL reports never panic; one that parses
// lays out again to its own bytes, and its checks and fields run.
func FuzzParseHCLReport(f *testing.F) {
	for _, tc := range recordedHCL {
		b := read(f, "testdata/"+tc.file)
		f.Add(b)
		f.Add(b[:tc.reportSize])
		f.Add(b[:tc.reportSize-1])
		f.Add(b[:0x4d4])
	}
	f.Add(synthHCL(f, verify.HCLHashSHA384, claims(akJWK, `,"user-data":"00"`), nil, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := verify.ParseHCLReport(b)
		if err != nil {
			return
		}
		if !bytes.Equal(MarshalHCL(h), h.Raw()) || !bytes.Equal(h.Raw(), b[:len(h.Raw())]) {
			t.Errorf("the report does not lay out again to its bytes")
		}
		if len(h.Raw())+h.Padding() != len(b) {
			t.Errorf("report %d + padding %d != %d bytes", len(h.Raw()), h.Padding(), len(b))
		}
		_ = h.CheckBinding()
		_ = h.Check(nil)
		_ = h.Fields()
		_ = h.Describe()
		for _, r := range h.Registers() {
			if len(r.Value) != 48 {
				t.Errorf("%s is %d bytes", r.Name, len(r.Value))
			}
		}
	})
}
