//go:build !measure_front

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/measure-cc/measure/measure"
	"github.com/measure-cc/measure/measure/snp"
	"github.com/measure-cc/measure/provenance/refvalues"
)

// buildPair builds the front build (-tags measure_front) as dir/front and
// the full build as dir/full, as scripts/release does.
func buildPair(t *testing.T) (front, full string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds two binaries")
	}
	if runtime.GOOS == "windows" {
		t.Skip("the front build execs measure-full on unix")
	}
	dir := t.TempDir()
	front, full = filepath.Join(dir, "front"), filepath.Join(dir, "full")
	for _, b := range []struct{ out, tags string }{{front, "measure_front"}, {full, ""}} {
		cmd := exec.Command("go", "build", "-tags", b.tags, "-o", b.out, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build -tags %q: %v\n%s", b.tags, err, out)
		}
	}
	return front, full
}

// install copies the front build into a new directory as name and, when
// fullName is not "", the full build beside it as fullName.
func install(t *testing.T, front, full, name, fullName string) string {
	t.Helper()
	dir := t.TempDir()
	cp := func(src, dst string) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cp(front, name)
	if fullName != "" {
		cp(full, fullName)
	}
	return filepath.Join(dir, name)
}

type procResult struct {
	stdout, stderr string
	code           int
}

func runProc(t *testing.T, bin string, args ...string) procResult {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return procResult{stdout.String(), stderr.String(), code}
}

// TestFrontBuild: the front build runs the measuring commands itself, as
// the full build does, and hands every other command line to measure-full
// beside it, which then answers exactly as if run directly: the same
// output, the same exit status.
func TestFrontBuild(t *testing.T) {
	front, full := buildPair(t)
	fw := trixie
	if _, err := os.Stat(fw); err != nil {
		t.Skip("fixture missing:", err)
	}

	t.Run("measuring commands need no measure-full", func(t *testing.T) {
		alone := install(t, front, full, "measure", "")
		for _, args := range [][]string{
			{"snp", "--ovmf", fw, "--vcpus", "4", "--vcpu-type", "EPYC-v4"},
			{"snp", "--ovmf", fw, "--vcpus", "4", "--vcpu-type", "EPYC-v4", "--output", "json"},
			{"seves", "--ovmf", fw, "--vcpus", "2", "--vcpu-type", "EPYC-v4"},
			{"tdx", "--ovmf", fw},
			{"ovmf", "inspect", "--output", "json", fw},
			{"snp", "--ovmf", "/nonexistent"},
			{"snp", "--vcpus", "x"},
			{"snp", "--help"},
			{"tdx", "-h"},
		} {
			got, want := runProc(t, alone, args...), runProc(t, full, args...)
			if got != want {
				t.Errorf("measure %v: front build %+v, full build %+v", args, got, want)
			}
		}
		// Both builds read the firmware into huge pages (main's hugeReads);
		// in process, tests read it into the heap.
		for _, args := range [][]string{
			{"snp", "--ovmf", fw, "--vcpus", "4", "--vcpu-type", "EPYC-v4"},
			{"tdx", "--ovmf", fw},
		} {
			var out, stderr bytes.Buffer
			if err := run(args, &out, &stderr); err != nil {
				t.Fatalf("measure %v in process: %v", args, err)
			}
			if r := runProc(t, alone, args...); r.stdout != out.String() || r.code != 0 {
				t.Errorf("measure %v: front build %+v, in process %q", args, r, out.String())
			}
		}
		if r := runProc(t, alone, "--version"); r.code != 0 || !strings.HasPrefix(r.stdout, "measure ") {
			t.Errorf("--version: %+v", r)
		}
	})

	t.Run("other commands without measure-full", func(t *testing.T) {
		alone := install(t, front, full, "measure", "")
		for _, args := range [][]string{
			{"compare", "--report", "x"},
			{"snp", "--ovmf", fw, "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--output", "statement"},
			{"--help"},
			{},
		} {
			r := runProc(t, alone, args...)
			if r.code != exitError || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 ||
				!strings.Contains(r.stderr, "measure-full, not found next to it") {
				t.Errorf("measure %v without measure-full: %+v, want exit %d, one line naming measure-full, no output", args, r, exitError)
			}
		}
	})

	t.Run("handed to measure-full", func(t *testing.T) {
		for _, names := range [][2]string{{"measure", "measure-full"}, {"measure-linux-amd64", "measure-full-linux-amd64"}} {
			bin := install(t, front, full, names[0], names[1])
			for _, args := range [][]string{
				{"--help"},
				{"snp", "--ovmf", fw, "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--output", "statement"},
				{"tdx", "--ovmf", fw, "--output", "statement"},
				{"snp", "--ovmf", fw, "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--timestamp"},
				{"compare", "--report", filepath.Join(t.TempDir(), "missing")},
				{"verify", "--key", "/nonexistent", "x"},
				{"recipes", "list"},
				{"nonsense"},
			} {
				got, want := runProc(t, bin, args...), runProc(t, full, args...)
				if got != want {
					t.Errorf("%s %v: front build %+v, measure-full %+v", names[0], args, got, want)
				}
			}
		}
	})

	t.Run("a front build in measure-full's place", func(t *testing.T) {
		// Installed as measure-full itself, and beside another front
		// build as its measure-full: an error, never a loop.
		self := install(t, front, full, "measure-full", "")
		pair := install(t, front, front, "measure", "measure-full")
		for _, bin := range []string{self, pair} {
			done := make(chan procResult, 1)
			go func() { done <- runProc(t, bin, "recipes", "list") }()
			select {
			case r := <-done:
				if r.code != exitError || r.stdout != "" || !strings.Contains(r.stderr, "is a front build too") {
					t.Errorf("%s recipes list: %+v", bin, r)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("%s recipes list: still running after 20 s", bin)
			}
		}
	})

	t.Run("a file that is not executable", func(t *testing.T) {
		bin := install(t, front, full, "measure", "measure-full")
		if err := os.Chmod(filepath.Join(filepath.Dir(bin), "measure-full"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := runProc(t, bin, "recipes", "list")
		if r.code != exitError || r.stdout != "" || !strings.Contains(r.stderr, "not an executable file") {
			t.Errorf("non-executable measure-full: %+v", r)
		}
	})
}

// TestFrontBuildLinks: the front build links none of the libraries it
// exists to leave out.
func TestFrontBuildLinks(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-tags", "measure_front", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, heavy := range []string{
			"google.golang.org/protobuf", "github.com/google/go-containerregistry",
			"github.com/google/go-sev-guest", "github.com/google/go-tdx-guest",
			"github.com/in-toto/", "github.com/measure-cc/measure/provenance",
			"github.com/measure-cc/measure/verify", "github.com/measure-cc/measure/builders",
			"github.com/measure-cc/measure/oci",
		} {
			if strings.HasPrefix(pkg, heavy) {
				t.Errorf("the front build links %s", pkg)
			}
		}
	}
}

// TestRecordFieldsAsPredicate: the JSON records name a launch's VMM type,
// vCPUs, vCPU type and signature and guest features as the
// reference-values predicate does (record.setLaunch repeats
// refvalues.Configuration, which the front build cannot link).
func TestRecordFieldsAsPredicate(t *testing.T) {
	var launches []measure.Launch
	for _, vmm := range []measure.VMM{measure.VMMQEMU, measure.VMMEC2, measure.VMMGCE} {
		for _, ct := range snp.CPUTypes() {
			cpu := measure.CPU{Name: ct.Name, Signature: ct.Signature()}
			launches = append(launches,
				measure.SNP{VMM: vmm, VCPUs: 3, CPU: cpu, GuestFeatures: 0x21},
				measure.SEVES{VMM: vmm, VCPUs: 7, CPU: cpu})
		}
	}
	launches = append(launches, measure.SEV{}, measure.DefaultTDX(),
		measure.SNP{VMM: measure.VMMQEMU, VCPUs: 1, CPU: measure.CPU{Signature: 0x800f12}, GuestFeatures: 1})
	for _, l := range launches {
		var r record
		r.setLaunch(l)
		c := refvalues.Configuration(l)
		got := [5]any{r.VMMType, r.VCPUs, r.VCPUType, r.VCPUSig, r.GuestFeatures}
		want := [5]any{c.VMMType, c.VCPUs, c.VCPUType, c.VCPUSig, c.GuestFeatures}
		if got != want {
			t.Errorf("%#v: record %v, predicate %v", l, got, want)
		}
	}
	if len(launches) < 20 {
		t.Fatalf("only %d launches", len(launches))
	}
}
