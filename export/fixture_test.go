package export_test

import (
	"context"
	"strings"
	"testing"

	"github.com/measure-cc/measure/export"
	"github.com/measure-cc/measure/provenance"
)

// The register values of the fixtures, written out here so that tests
// compare what a consumer reads with these strings, not with what the
// writer under test computed.
var (
	snpM1 = "c57729018b0a6fb90dc17bb138b0aa35e4401004283ff4a2c24d3739ff3750f52384370e77b7032862a08c440a9bc4dc"
	snpM4 = "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f"

	tdxMRTD   = "024a32b070383331181619fa387cb4d55d1e38879f989933055ccad5bc2db795d1737b66205949d15469dc8c1ba7ab7b"
	tdxRTMR0a = strings.Repeat("0a", 48)
	tdxRTMR0b = strings.Repeat("0b", 48)
	tdxRTMR1  = strings.Repeat("11", 48)
	tdxRTMR2  = strings.Repeat("22", 48)
	tdxRTMR3  = strings.Repeat("00", 48)
)

var testFirmware = provenance.Firmware{Name: "OVMF.fd", Digest: map[string]string{"sha256": strings.Repeat("5a", 32), "sha384": strings.Repeat("5b", 48)}}

func sha384(d string) map[string]string { return map[string]string{"sha384": d} }

// snpValues: three configurations, two of them with the same MEASUREMENT.
func snpValues() provenance.ReferenceValues {
	cfg := func(n int) provenance.Configuration {
		return provenance.Configuration{VMMType: "qemu", VCPUs: n, VCPUType: "EPYC-v4", VCPUSig: "0x800f12", GuestFeatures: "0x1", Profile: "qemu-kvm-sev-init2"}
	}
	return provenance.ReferenceValues{
		Platform: "sev-snp",
		Firmware: testFirmware,
		Values: []provenance.ReferenceValue{
			{Configuration: cfg(1), Measurements: []provenance.Measurement{{Register: "MEASUREMENT", Digest: sha384(snpM1)}}},
			{Configuration: cfg(4), Measurements: []provenance.Measurement{{Register: "MEASUREMENT", Digest: sha384(snpM4)}}},
			{Configuration: cfg(8), Measurements: []provenance.Measurement{{Register: "MEASUREMENT", Digest: sha384(snpM1)}}},
		},
		Tool: provenance.Tool{Name: "measure", Version: "test"},
	}
}

// tdxValues: two configurations that differ in memory and so in RTMR0.
func tdxValues() provenance.ReferenceValues {
	ms := func(rtmr0 string) []provenance.Measurement {
		return []provenance.Measurement{
			{Register: "MRTD", Digest: sha384(tdxMRTD)},
			{Register: "RTMR0", Digest: sha384(rtmr0)},
			{Register: "RTMR1", Digest: sha384(tdxRTMR1)},
			{Register: "RTMR2", Digest: sha384(tdxRTMR2)},
			{Register: "RTMR3", Digest: sha384(tdxRTMR3)},
		}
	}
	return provenance.ReferenceValues{
		Platform: "tdx",
		Firmware: testFirmware,
		Boot: &provenance.Boot{
			Kernel:  provenance.File{Name: "vmlinuz", Digest: map[string]string{"sha256": strings.Repeat("4b", 32)}},
			Initrd:  provenance.File{Digest: map[string]string{"sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}},
			Cmdline: provenance.Cmdline{Value: "console=ttyS0", Digest: map[string]string{"sha256": strings.Repeat("4c", 32)}},
		},
		Values: []provenance.ReferenceValue{
			{Configuration: provenance.Configuration{PageAddOrder: "two-pass", QEMUVersion: "9.2", Memory: "2G"}, Measurements: ms(tdxRTMR0a)},
			{Configuration: provenance.Configuration{PageAddOrder: "two-pass", QEMUVersion: "9.2", Memory: "4G"}, Measurements: ms(tdxRTMR0b)},
		},
		Tool: provenance.Tool{Name: "measure", Version: "test"},
	}
}

// statement returns rv as an in-toto statement's JSON.
func statement(t testing.TB, rv provenance.ReferenceValues) []byte {
	t.Helper()
	st, err := provenance.NewReferenceValuesStatement([]provenance.Subject{{Name: rv.Firmware.Name, Digest: rv.Firmware.Digest}}, rv)
	if err != nil {
		t.Fatal(err)
	}
	b, err := provenance.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testKey is a key pair of one algorithm.
type testKey struct {
	signer   *provenance.Signer
	verifier *provenance.Verifier
	pubPEM   []byte
}

func newKey(t testing.TB, alg provenance.KeyAlgorithm) testKey {
	t.Helper()
	priv, pub, err := provenance.GenerateKey(alg, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := provenance.ParseSigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	v, err := provenance.ParseVerifier(pub)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{s, v, pub}
}

// envelope signs rv's statement with k.
func envelope(t testing.TB, rv provenance.ReferenceValues, k testKey) []byte {
	t.Helper()
	env, err := provenance.Sign(context.Background(), statement(t, rv), k.signer)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// source loads rv's statement signed with k.
func source(t testing.TB, rv provenance.ReferenceValues, k testKey) *export.Source {
	t.Helper()
	src, err := export.Load(context.Background(), envelope(t, rv, k), export.LoadOptions{Keys: []*provenance.Verifier{k.verifier}})
	if err != nil {
		t.Fatal(err)
	}
	return src
}
