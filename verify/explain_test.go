package verify_test

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/measure-cc/measure/measure/snp"
	"github.com/measure-cc/measure/verify"
	"github.com/measure-cc/measure/verify/verifytest"
)

// TestExplainVectors makes a signed synthetic report from each SEV-SNP row of
// testdata/vectors/snp.tsv (digests from virtee/sev-snp-measure) and checks
// that explain finds that row's configuration, and only it, in the full
// default space.
func TestExplainVectors(t *testing.T) {
	signer, err := verifytest.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	explainers := map[string]*verify.Explainer{}
	ran := 0
	for _, v := range snpVectors(t) {
		t.Run(v.id, func(t *testing.T) {
			paths := []string{v.ovmf, v.kernel, v.initrd}
			for _, p := range paths {
				if p == "" {
					continue
				}
				if _, err := os.Stat(p); err != nil {
					t.Skipf("fixture absent: %v", err)
				}
			}
			key := v.ovmf + "|" + v.kernel + "|" + v.initrd + "|" + v.cmdline
			e := explainers[key]
			if e == nil {
				var kh *snp.KernelHashes
				if v.kernel != "" {
					var initrd *bytes.Reader
					k := bytes.NewReader(read(t, v.kernel))
					if v.initrd != "" {
						initrd = bytes.NewReader(read(t, v.initrd))
					}
					var err error
					if initrd != nil {
						kh, err = snp.NewKernelHashes(k, initrd, v.cmdline)
					} else {
						kh, err = snp.NewKernelHashes(k, nil, v.cmdline)
					}
					if err != nil {
						t.Fatal(err)
					}
				}
				e = verify.NewExplainer(loadImage(t, v.ovmf), verify.BootVariants(kh, v.initrd != "", v.hasCmdline), verify.Space{})
				explainers[key] = e
			}
			b, err := signer.Sign(verifytest.Report{Measurement: v.expected})
			if err != nil {
				t.Fatal(err)
			}
			r, err := verify.ParseSNPReport(b)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			ex, err := e.Explain(r.Measurement())
			if err != nil {
				t.Fatalf("Explain: %v", err)
			}
			t.Logf("searched %d configurations in %v", ex.Searched, time.Since(start))
			if len(ex.Found) != 1 {
				t.Fatalf("Explain found %d configurations, want 1: %+v", len(ex.Found), ex.Found)
			}
			f := ex.Found[0]
			want := v.cfg
			if want.VMM != snp.VMMQEMU {
				want.VCPUSig = 0
			}
			if f.Config != want {
				t.Errorf("Explain found %+v, want %+v", f.Config, want)
			}
			if f.Boot.Kernel != (v.kernel != "") || f.Boot.Initrd != (v.initrd != "") || f.Boot.Cmdline != v.hasCmdline {
				t.Errorf("Explain found boot %v, want kernel %q initrd %q cmdline %v", f.Boot, v.kernel, v.initrd, v.hasCmdline)
			}
			ran++
		})
	}
	if ran < 8 {
		t.Errorf("only %d vectors ran, want at least the 8 that need no shared fixture", ran)
	}
}

// TestExplainNothing: a measurement no configuration gives is reported as
// such, after the whole space.
func TestExplainNothing(t *testing.T) {
	img := loadImage(t, "../testdata/fixtures/trixie-OVMF.fd")
	start := time.Now()
	e := verify.NewExplainer(img, verify.BootVariants(nil, false, false), verify.Space{})
	var d snp.SNPDigest
	d[0] = 1
	ex, err := e.Explain(d)
	elapsed := time.Since(start)
	if !errors.Is(err, verify.ErrNoConfiguration) {
		t.Fatalf("Explain = %v, want ErrNoConfiguration", err)
	}
	// QEMU: the distinct signatures of snp.CPUTypes(); EC2 and GCE: one each.
	sigs := map[uint32]bool{}
	for _, c := range snp.CPUTypes() {
		sigs[c.Signature()] = true
	}
	want := (len(sigs) + 2) * len(verify.CommonGuestFeatures) * verify.DefaultMaxVCPUs
	if ex.Searched != want || len(ex.Found) != 0 {
		t.Errorf("searched %d configurations, found %d; want %d and none", ex.Searched, len(ex.Found), want)
	}
	t.Logf("full space, cold: %d configurations in %v", ex.Searched, elapsed)
}

// TestExplainKernelWithoutHashesSection: the kernel variants of a firmware
// that cannot measure a kernel are skipped and said so; the rest is searched.
func TestExplainKernelWithoutHashesSection(t *testing.T) {
	img := loadImage(t, "../testdata/fixtures/bookworm-OVMF.fd")
	kh, err := snp.NewKernelHashes(bytes.NewReader([]byte("kernel")), nil, "")
	if err != nil {
		t.Fatal(err)
	}
	vecs := snpVectors(t)
	var want snp.SNPDigest
	for _, v := range vecs {
		if v.id == "snp-ec2-bookworm-ovmf-4" {
			want = v.expected
		}
	}
	e := verify.NewExplainer(img, verify.BootVariants(kh, false, false), verify.Space{})
	ex, err := e.Explain(want)
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.Found) != 1 || ex.Found[0].Config.VMM != snp.VMMEC2 || ex.Found[0].Config.VCPUs != 4 || len(ex.Skipped) == 0 {
		t.Errorf("Explain = %+v, want ec2 with 4 vCPUs and a skipped kernel variant", ex)
	}
}
