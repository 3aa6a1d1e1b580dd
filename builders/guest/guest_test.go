package guest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/measure-cc/measure/builders/engine"
	"github.com/measure-cc/measure/builders/firmware"
	"github.com/measure-cc/measure/builders/guest/guesttest"
	"github.com/measure-cc/measure/builders/initramfs"
	"github.com/measure-cc/measure/builders/kernel"
	"github.com/measure-cc/measure/ovmf/ovmftest"
	"github.com/measure-cc/measure/provenance"
)

// newTestBuilder returns a Builder over the fakes of guesttest.
func newTestBuilder(fw *guesttest.Firmware) *Builder {
	return &Builder{
		Firmware:  fw,
		Kernel:    &guesttest.Kernel{},
		Initramfs: &initramfs.Builder{Runner: guesttest.Go(), ReadBuildInfo: guesttest.BuildInfo("go1.26.8")},
		Tool:      provenance.Tool{Name: "measure", Version: "test"},
	}
}

func testRecipe(t *testing.T) *Recipe {
	t.Helper()
	r, err := LookupRecipe(DefaultRecipe)
	if err != nil {
		t.Fatal(err)
	}
	r.Initramfs.Init = t.TempDir()
	return r
}

func TestEmbeddedRecipes(t *testing.T) {
	rs, err := Recipes()
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Name != DefaultRecipe {
		t.Fatalf("Recipes() = %d recipes, want only %q", len(rs), DefaultRecipe)
	}
	r := rs[0]
	if _, err := firmware.LookupRecipe(r.Firmware.Recipe); err != nil {
		t.Errorf("firmware recipe: %v", err)
	}
	if _, err := kernel.LookupRecipe(r.Kernel.Recipe); err != nil {
		t.Errorf("kernel recipe: %v", err)
	}
	ls, err := r.Launches()
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 9 {
		t.Errorf("Launches() = %d, want 9 (3 vCPU models x 1, 2, 4 vCPUs)", len(ls))
	}
}

func TestParseRecipeErrors(t *testing.T) {
	good, err := os.ReadFile("recipes/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, old, new, wantErr string
	}{
		{"unknown field", "name: minimal", "name: minimal\ncolour: red", "unknown field"},
		{"vcpu type", "EPYC-Genoa]", "EPYC-Nope]", "EPYC-Nope"},
		{"vcpus", "vcpus: [1, 2, 4]", "vcpus: [1, 1]", "distinct counts"},
		{"features", `guestFeatures: "0x1"`, `guestFeatures: "1"`, "0x-hex"},
		{"vmm", "vmmTypes: [qemu]", "vmmTypes: [xen]", "unknown"},
		{"order", "single-pass", "three-pass", "pageAddOrder"},
		{"cmdline", "cmdline: console=ttyS0 panic=-1", `cmdline: "a\nb"`, "newline"},
		{"output", "output: bzImage", "output: a/bzImage", "want an embedded recipe name and a file name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !bytes.Contains(good, []byte(tc.old)) {
				t.Fatalf("recipe lacks %q", tc.old)
			}
			_, err := ParseRecipe(bytes.Replace(good, []byte(tc.old), []byte(tc.new), 1))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseRecipe = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestBuild(t *testing.T) {
	b := newTestBuilder(&guesttest.Firmware{})
	r := testRecipe(t)
	out := t.TempDir()
	res, err := b.Build(context.Background(), r, Options{OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range res.Artifacts {
		names = append(names, a.Name)
		if _, err := os.Stat(filepath.Join(out, a.Name)); err != nil {
			t.Errorf("artifact: %v", err)
		}
	}
	if diff := cmp.Diff([]string{"OVMF.fd", "bzImage", "initramfs.cpio.gz", "cmdline"}, names); diff != "" {
		t.Errorf("artifacts (-want +got):\n%s", diff)
	}
	var stmts []string
	for _, a := range res.Statements {
		rel, _ := filepath.Rel(out, a.Path)
		stmts = append(stmts, rel)
	}
	wantStmts := []string{"reference-values.json", "provenance/OVMF.fd.intoto.json", "provenance/bzImage.intoto.json",
		"provenance/initramfs.cpio.gz.intoto.json", "provenance/cmdline.intoto.json"}
	if diff := cmp.Diff(wantStmts, stmts); diff != "" {
		t.Errorf("statements (-want +got):\n%s", diff)
	}
	var stages []string
	for _, s := range res.Stages {
		stages = append(stages, s.Name)
	}
	if diff := cmp.Diff([]string{"firmware", "kernel", "initramfs", "cmdline", "reference values", "provenance"}, stages); diff != "" {
		t.Errorf("stages (-want +got):\n%s", diff)
	}
	cmdline, err := os.ReadFile(filepath.Join(out, "cmdline"))
	if err != nil || string(cmdline) != r.Cmdline {
		t.Errorf("cmdline file %q, %v; want %q", cmdline, err, r.Cmdline)
	}

	// The reference-values statement names every artifact with its digests,
	// and its predicate is what the statement says.
	data, err := os.ReadFile(filepath.Join(out, ReferenceValuesName))
	if err != nil {
		t.Fatal(err)
	}
	st, err := provenance.ParseStatement(data)
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, s := range st.GetSubject() {
		f, err := os.ReadFile(filepath.Join(out, s.GetName()))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(Blob{Data: f}.Digests(), s.GetDigest()); diff != "" {
			t.Errorf("subject %s digest (-file +statement):\n%s", s.GetName(), diff)
		}
		subjects = append(subjects, s.GetName())
	}
	if diff := cmp.Diff(names, subjects); diff != "" {
		t.Errorf("subjects (-artifacts +got):\n%s", diff)
	}
	rv, err := provenance.ReferenceValuesFromStatement(st)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(res.SNP, rv); diff != "" {
		t.Errorf("predicate (-result +statement):\n%s", diff)
	}
	if rv.Boot == nil || rv.Boot.Cmdline.Value != r.Cmdline || rv.Boot.Initrd.Name != InitramfsName || rv.Boot.Kernel.Name != "bzImage" {
		t.Errorf("boot inputs %+v, want bzImage, %s and %q", rv.Boot, InitramfsName, r.Cmdline)
	}
	if len(rv.Values) != 9 {
		t.Errorf("%d reference values, want 9", len(rv.Values))
	}
	if res.TDX != nil {
		t.Errorf("TDX values for an image without TDVF metadata: %+v", res.TDX)
	}
	// One SLSA statement per artifact, naming it alone.
	for _, a := range res.Artifacts {
		b, err := os.ReadFile(filepath.Join(out, ProvenanceDir, a.Name+".intoto.json"))
		if err != nil {
			t.Fatal(err)
		}
		st, err := provenance.ParseStatement(b)
		if err != nil {
			t.Fatalf("provenance of %s: %v", a.Name, err)
		}
		if subj := st.GetSubject(); len(subj) != 1 || subj[0].GetName() != a.Name || subj[0].GetDigest()["sha256"] != a.SHA256 {
			t.Errorf("provenance of %s: subjects %v, want it alone", a.Name, subj)
		}
		if st.GetPredicateType() != provenance.SLSAPredicateType {
			t.Errorf("provenance of %s: predicate type %q", a.Name, st.GetPredicateType())
		}
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		flip    bool
		wantErr string
	}{
		{"same", false, ""},
		{"firmware differs", true, "OVMF.fd (1 bytes differ, the first at 0x100), reference-values.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fw := &guesttest.Firmware{FlipSecond: tc.flip}
			b := newTestBuilder(fw)
			res, err := b.Check(context.Background(), testRecipe(t), t.TempDir())
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
			} else if !errors.Is(err, engine.ErrNotReproducible) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Check() = %v, want ErrNotReproducible naming %q", err, tc.wantErr)
			}
			if res == nil || res.A == nil || res.B == nil {
				t.Fatalf("Check() result %+v, want both builds", res)
			}
			calls := fw.Calls()
			if len(calls) != 2 || calls[0].WorkName == calls[1].WorkName ||
				calls[0].Vary.Umask != engine.CheckVariations[0].Umask || calls[1].Vary.Umask != engine.CheckVariations[1].Umask {
				t.Errorf("firmware builds %+v, want two with the check variations and distinct work names", calls)
			}
		})
	}
}

// TestDigestFollowsEveryInput: one byte more or different in the command
// line, the initrd, the kernel or the firmware changes every SEV-SNP
// reference value.
func TestDigestFollowsEveryInput(t *testing.T) {
	r := testRecipe(t)
	launches, err := r.Launches()
	if err != nil {
		t.Fatal(err)
	}
	base := Boot{
		Firmware: Blob{Name: "OVMF.fd", Data: ovmftest.AmdSev().MustBuild()},
		Kernel:   Blob{Name: "bzImage", Data: bytes.Repeat([]byte("kernel"), 1000)},
		Initrd:   Blob{Name: "initramfs.cpio.gz", Data: bytes.Repeat([]byte("initrd"), 1000)},
		Cmdline:  r.Cmdline,
	}
	flip := func(b []byte, i int) []byte {
		c := append([]byte(nil), b...)
		c[i] ^= 0x01
		return c
	}
	tests := []struct {
		name   string
		change func(b *Boot)
	}{
		{"cmdline one byte", func(b *Boot) { b.Cmdline = strings.Replace(b.Cmdline, "ttyS0", "ttyS1", 1) }},
		{"cmdline one byte longer", func(b *Boot) { b.Cmdline += " " }},
		{"initrd one byte", func(b *Boot) { b.Initrd.Data = flip(b.Initrd.Data, 3000) }},
		{"kernel one byte", func(b *Boot) { b.Kernel.Data = flip(b.Kernel.Data, 0) }},
		{"firmware one byte", func(b *Boot) { b.Firmware.Data = flip(b.Firmware.Data, 0x1000) }},
	}
	want, err := SNPReferenceValues(base, launches, provenance.Tool{Name: "measure", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := base
			tc.change(&b)
			got, err := SNPReferenceValues(b, launches, provenance.Tool{Name: "measure", Version: "test"})
			if err != nil {
				t.Fatal(err)
			}
			for i := range want.Values {
				w, g := want.Values[i].Measurements[0].Digest["sha384"], got.Values[i].Measurements[0].Digest["sha384"]
				if w == g {
					t.Errorf("%+v: digest %s did not change", got.Values[i].Configuration, g)
				}
			}
		})
	}
}

func TestTDXReferenceValues(t *testing.T) {
	img := ovmftest.MustTDVFImage(ovmftest.TDVF{Size: 256 << 10})
	rv, err := TDXReferenceValues(Blob{Name: "OVMF.fd", Data: img}, 0, provenance.Tool{Name: "measure", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if rv == nil || rv.Platform != "tdx" || len(rv.Values) != 1 || rv.Values[0].Measurements[0].Register != "MRTD" {
		t.Errorf("TDXReferenceValues = %+v, want one MRTD", rv)
	}
}
