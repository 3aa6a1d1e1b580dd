package snp_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"testing"

	"github.com/measure-cc/measure/measure/snp"
	"github.com/measure-cc/measure/ovmf"
)

// TestVMSAPages checks SNPVMSAs and SEVESVMSAs against the vmsa{i}.bin
// files sev-snp-measure 8f2b337 writes with --dump-vmsa (2 vCPUs, EPYC-v4,
// its default guest features 0x1, tests/fixtures/ovmf_AmdSev_suffix.bin,
// which is testdata/profiles/ovmf_AmdSev_suffix-0095249.bin), and the pages
// against the digest it prints.
func TestVMSAPages(t *testing.T) {
	b, err := os.ReadFile("testdata/profiles/ovmf_AmdSev_suffix-0095249.bin")
	if err != nil {
		t.Fatal(err)
	}
	if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != "8f765dfabc127fc0a938a0744a3103ec15864d7d794eb4c398aa976b6d6ab16c" {
		t.Fatalf("ovmf_AmdSev_suffix-0095249.bin: sha256 %x is not sev-snp-measure's fixture", got)
	}
	img, err := ovmf.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		seves  bool
		vmm    snp.VMMType
		digest string
		vmsas  [2]string // sha256 of vmsa0.bin, vmsa1.bin
	}{
		{"snp-qemu", false, snp.VMMQEMU,
			"ae7e31b6e2220dcb2832b050464cf9fb5da4feed92be5cdd966435c2ee722f341410bb2438923ee696bd23460ff9c904",
			[2]string{"591598a62aa556861a392da67feab71a919975d97a579eb1df12503178c9cbb3", "4ffee74d299a5d74748460fd6238d5cdbb7da2fe1c12476a9bf3c8ecdbdcd905"}},
		{"snp-ec2", false, snp.VMMEC2,
			"45160b0bd6416da62b6cefb16afa8437d8d49d1d29428cf0f16373a4ef2911df1f7e01bf05a3d7ec3dd66090d24f59c7",
			[2]string{"d6c9d0409668043e96874082e992eb1a08393f1ad6f3c1be450e51bc2cc66004", "ce413781191b8f11f8cf1a4a5d9d7f9824356c02390b47ea0d33976bc2430b90"}},
		{"snp-gce", false, snp.VMMGCE,
			"79dfaeda92b99cdb2ae455e964b5b8c867a1756ca4b12080ef461e207f68d738deb06eb11567a374090eea9b9731d6be",
			[2]string{"a2b1355de1e1f11159d4cfaa28a748c6d19f63b330a7cb09696eda0c5f2f8ab8", "e62b24c0430d685360090aa7362d89bc9009a43794cdd274a57abb8fada49344"}},
		{"seves-qemu", true, snp.VMMQEMU,
			"8502e4764318e5cd06edca228f7cfd6089a4f93f20e07e6e3b6498b3f5d69248",
			[2]string{"8295cef559b57130391d59605890ef93297720b48bef9a8c3c985b9c3fb0788c", "7ff723da33f39dedbe8336bb697e0a2f76471690074d5902e1a8177cd5312c95"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := snp.NewMeasurer(img, nil, nil)
			cfg := snp.Config{VCPUs: 2, VCPUSig: epycV4, VMM: tc.vmm, GuestFeatures: 0x1}
			var pages [][]byte
			var digest string
			if tc.seves {
				pages, err = m.SEVESVMSAs(cfg)
				d, derr := m.SEVES(cfg)
				if derr != nil {
					t.Fatal(derr)
				}
				digest = d.String()
				// SEV-ES: SHA-256 over the firmware and the pages, in order.
				h := sha256.New()
				h.Write(img.Data())
				for _, p := range pages {
					h.Write(p)
				}
				if got := hex.EncodeToString(h.Sum(nil)); got != digest {
					t.Errorf("SHA-256(firmware || VMSA pages) = %s, want the digest %s", got, digest)
				}
			} else {
				pages, err = m.SNPVMSAs(cfg)
				one, derr := m.SNP(snp.Config{VCPUs: 1, VCPUSig: epycV4, VMM: tc.vmm, GuestFeatures: 0x1})
				d, derr2 := m.SNP(cfg)
				if derr != nil || derr2 != nil {
					t.Fatal(derr, derr2)
				}
				digest = d.String()
				if got := extendVMSA(one, pages[1]); got != d {
					t.Errorf("1-vCPU digest extended by vmsa1 = %s, want the 2-vCPU digest %s", got, d)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			if digest != tc.digest {
				t.Errorf("digest = %s, want %s", digest, tc.digest)
			}
			if len(pages) != 2 {
				t.Fatalf("%d pages, want 2", len(pages))
			}
			for i, p := range pages {
				if len(p) != 4096 {
					t.Errorf("vmsa%d: %d bytes, want 4096", i, len(p))
				}
				if got := sha256.Sum256(p); hex.EncodeToString(got[:]) != tc.vmsas[i] {
					t.Errorf("sha256(vmsa%d) = %x, want %s", i, got, tc.vmsas[i])
				}
			}
		})
	}
}
