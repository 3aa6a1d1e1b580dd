package verify_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
			want.Profile = snp.DefaultProfile(want.VMM) // the vectors are today's hosts
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

// spaceSize is the number of configurations the default space holds for
// one boot variant: per profile, the distinct vCPU signatures when the
// profile measures them (QEMU's), one otherwise, times the guest features
// (one for SEV-ES), times the vCPU counts.
func spaceSize(features int) int {
	sigs := map[uint32]bool{}
	for _, c := range snp.CPUTypes() {
		sigs[c.Signature()] = true
	}
	n := 0
	for _, p := range snp.Profiles() {
		if p.State.RDXIsCPUSignature {
			n += len(sigs)
		} else {
			n++
		}
	}
	return n * features * verify.DefaultMaxVCPUs
}

// TestExplainNothing: a measurement no configuration gives is reported as
// such, after the whole space (every profile of every VMM type), for
// SEV-SNP and SEV-ES.
func TestExplainNothing(t *testing.T) {
	img := loadImage(t, "../testdata/fixtures/trixie-OVMF.fd")
	for _, platform := range []string{"sev-snp", "sev-es"} {
		start := time.Now()
		e := verify.NewExplainer(img, verify.BootVariants(nil, false, false), verify.Space{})
		var ex *verify.Explanation
		var err error
		want := spaceSize(len(verify.CommonGuestFeatures))
		if platform == "sev-snp" {
			var d snp.SNPDigest
			d[0] = 1
			ex, err = e.Explain(d)
		} else {
			var d snp.SEVDigest
			d[0] = 1
			ex, err = e.ExplainSEVES(d)
			want = spaceSize(1)
		}
		elapsed := time.Since(start)
		if !errors.Is(err, verify.ErrNoConfiguration) {
			t.Fatalf("%s: Explain = %v, want ErrNoConfiguration", platform, err)
		}
		if ex.Searched != want || len(ex.Found) != 0 || string(ex.Platform) != platform {
			t.Errorf("%s: searched %d configurations, found %d, platform %s; want %d and none", platform, ex.Searched, len(ex.Found), ex.Platform, want)
		}
		t.Logf("%s full space, cold: %d configurations in %v (%.0f configurations/s)", platform, ex.Searched, elapsed, float64(ex.Searched)/elapsed.Seconds())
	}
}

// TestExplainSpaceProfiles: Space.Profiles narrows the search to the
// profiles listed, and a VMM type none of whose profiles is listed is not
// searched.
func TestExplainSpaceProfiles(t *testing.T) {
	img := loadImage(t, "../testdata/fixtures/trixie-OVMF.fd")
	e := verify.NewExplainer(img, verify.BootVariants(nil, false, false), verify.Space{MaxVCPUs: 4, GuestFeatures: []uint64{1}, Profiles: []snp.Profile{snp.ProfileEC2RDX0}})
	ex, err := e.Explain(snp.SNPDigest{1})
	if !errors.Is(err, verify.ErrNoConfiguration) || ex.Searched != 4 {
		t.Errorf("Explain = %v after %d configurations, want ErrNoConfiguration after 4 (one profile, one signature, 4 counts)", err, ex.Searched)
	}
}

// profileRow is one row of measure/snp/testdata/profiles/vectors.tsv:
// digests computed by virtee/sev-snp-measure and Kata Containers, each with
// the launch profile of its period (that directory's README).
type profileRow struct {
	id, platform, firmware, append, seed string
	devNull                              bool
	cfg                                  snp.Config
	expected                             string
}

const profilesDir = "../measure/snp/testdata/profiles"

func profileRows(t testing.TB) []profileRow {
	t.Helper()
	b := read(t, filepath.Join(profilesDir, "vectors.tsv"))
	var out []profileRow
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		c := strings.Split(line, "\t")
		if len(c) != 13 {
			t.Fatalf("vectors.tsv line %d: %d columns, want 13", i+1, len(c))
		}
		if i == 0 {
			continue
		}
		info, err := func() (snp.ProfileInfo, error) {
			for _, p := range snp.Profiles() {
				if string(p.Name) == c[2] {
					return p, nil
				}
			}
			return snp.ProfileInfo{}, errors.New("profile unknown")
		}()
		n, err1 := strconv.Atoi(c[4])
		sig, err2 := strconv.ParseUint(c[5], 0, 32)
		var gf uint64
		var err3 error
		if c[6] != "-" {
			gf, err3 = strconv.ParseUint(c[6], 0, 64)
		}
		if err := errors.Join(err, err1, err2, err3); err != nil {
			t.Fatalf("vectors.tsv line %d: %v", i+1, err)
		}
		if !info.State.RDXIsCPUSignature {
			sig = 0 // explain reports no signature where the profile does not measure it
		}
		out = append(out, profileRow{
			id: c[0], platform: c[1], firmware: c[3], devNull: c[7] == "devnull", append: c[8], seed: c[9], expected: c[10],
			cfg: snp.Config{VCPUs: n, VCPUSig: uint32(sig), VMM: info.VMM, GuestFeatures: gf, Profile: info.Name},
		})
	}
	return out
}

// rowBoots returns the boot variants explain tries for a row: with
// sev-snp-measure's --kernel /dev/null (and --append), the empty kernel,
// with and without the command line. --initrd /dev/null is measured as no
// initrd, so the initrd is not varied: it would only double each answer.
func rowBoots(t testing.TB, r profileRow) []verify.Boot {
	if !r.devNull {
		return verify.BootVariants(nil, false, false)
	}
	kh, err := snp.NewKernelHashes(strings.NewReader(""), nil, r.append)
	if err != nil {
		t.Fatal(err)
	}
	return verify.BootVariants(kh, false, r.append != "")
}

// TestExplainProfileVectors gives explain each known answer of
// measure/snp/testdata/profiles as a bare measurement (and, for the rows
// with a seed, the seed instead of the firmware pages) and checks that the
// full default space holds exactly the row's configuration: VMM type,
// profile, vCPU count and signature, guest features and boot.
func TestExplainProfileVectors(t *testing.T) {
	explainers := map[string]*verify.Explainer{}
	total, searched := time.Duration(0), 0
	for _, r := range profileRows(t) {
		t.Run(r.id, func(t *testing.T) {
			key := strings.Join([]string{r.firmware, strconv.FormatBool(r.devNull), r.append, r.seed}, "|")
			e := explainers[key]
			start := time.Now()
			if e == nil {
				img := loadImage(t, filepath.Join(profilesDir, r.firmware))
				if r.seed == "-" {
					e = verify.NewExplainer(img, rowBoots(t, r), verify.Space{})
				} else {
					seed, err := snp.ParseSNPDigest(r.seed)
					if err != nil {
						t.Fatal(err)
					}
					e = verify.NewSeededExplainer(img, seed, rowBoots(t, r), verify.Space{})
				}
				explainers[key] = e
			}
			var ex *verify.Explanation
			var err error
			switch r.platform {
			case "snp":
				d, perr := snp.ParseSNPDigest(r.expected)
				if perr != nil {
					t.Fatal(perr)
				}
				ex, err = e.Explain(d)
			case "seves":
				var d snp.SEVDigest
				if perr := d.UnmarshalText([]byte(r.expected)); perr != nil {
					t.Fatal(perr)
				}
				ex, err = e.ExplainSEVES(d)
			default:
				t.Fatalf("platform %q", r.platform)
			}
			total += time.Since(start)
			if err != nil {
				t.Fatalf("Explain(%s): %v", r.expected, err)
			}
			searched += ex.Searched
			if len(ex.Found) != 1 {
				t.Fatalf("Explain(%s) found %d configurations, want 1: %+v", r.expected, len(ex.Found), ex.Found)
			}
			f := ex.Found[0]
			if f.Config != r.cfg {
				t.Errorf("Explain(%s) = %+v, want %+v", r.expected, f.Config, r.cfg)
			}
			if f.Boot.Kernel != r.devNull || f.Boot.Initrd || f.Boot.Cmdline != (r.append != "") {
				t.Errorf("Explain(%s) boot = %s, want kernel %v, command line %q", r.expected, f.Boot, r.devNull, r.append)
			}
			if r.cfg.VMM == snp.VMMQEMU && !slices.Contains(f.VCPUTypes, "EPYC-v4") {
				t.Errorf("Explain(%s) vCPU types %v, want EPYC-v4 (signature 0x800f12) among them", r.expected, f.VCPUTypes)
			}
		})
	}
	t.Logf("%d explainers, %d configurations searched in %v", len(explainers), searched, total)
}

// TestExplainSeedSEVES: a seeded Explainer refuses SEV-ES, whose digest
// hashes the firmware's bytes.
func TestExplainSeedSEVES(t *testing.T) {
	img := loadImage(t, "../testdata/fixtures/trixie-OVMF.fd")
	e := verify.NewSeededExplainer(img, snp.SNPDigest{}, verify.BootVariants(nil, false, false), verify.Space{MaxVCPUs: 1})
	if _, err := e.ExplainSEVES(snp.SEVDigest{}); !errors.Is(err, verify.ErrSeedSEVES) {
		t.Errorf("ExplainSEVES on a seeded Explainer = %v, want ErrSeedSEVES", err)
	}
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
