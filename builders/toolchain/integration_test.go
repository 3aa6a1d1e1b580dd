//go:build integration

package toolchain

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/measure-cc/measure/builders/run"
)

// ensureTimed runs Ensure and logs how long it took.
func ensureTimed(t *testing.T, dir string, s Spec) *Toolchain {
	t.Helper()
	var progress bytes.Buffer
	c := &Cache{Dir: dir, Runner: run.Exec{}, Progress: &progress}
	start := time.Now()
	tc, err := c.Ensure(context.Background(), s)
	if err != nil {
		t.Fatalf("Ensure(%s): %v\n%s", dir, err, progress.String())
	}
	t.Logf("Ensure(%s) = %s in %v (%d packages)\n%s", dir, tc.Digest, time.Since(start).Round(time.Millisecond), len(tc.Packages), progress.String())
	return tc
}

// TestMmdebstrapReproducible bootstraps a small root twice into two caches
// with real mmdebstrap: the image digests must agree.
func TestMmdebstrapReproducible(t *testing.T) {
	s := Spec{Suite: "trixie", Mirror: "http://deb.debian.org/debian", Variant: "essential", Packages: []string{"bc"}}
	dir := t.TempDir()
	a := ensureTimed(t, filepath.Join(dir, "a"), s)
	b := ensureTimed(t, filepath.Join(dir, "b"), s)
	if a.Digest != b.Digest {
		t.Errorf("two runs gave %s and %s", a.Digest, b.Digest)
	}
	for _, p := range a.Packages {
		if p.SHA256 == "" {
			t.Errorf("package %s has no .deb sha256", p.Name)
		}
	}
	// Served from the cache, after checking the tree.
	if c := ensureTimed(t, filepath.Join(dir, "a"), s); c.Digest != a.Digest {
		t.Errorf("cached Ensure gave %s, want %s", c.Digest, a.Digest)
	}
}

// TestFirmwareToolchain makes the toolchain of the debian-trixie firmware
// recipe, then Ensures it again (the tree check). With
// MEASURE_TOOLCHAIN_TWICE=1 it makes it a second time in another cache
// and compares the digests.
func TestFirmwareToolchain(t *testing.T) {
	b, err := os.ReadFile("../firmware/recipes/debian-trixie.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var recipe struct {
		Toolchain Spec `json:"toolchain"`
	}
	if err := yaml.Unmarshal(b, &recipe); err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("MEASURE_TOOLCHAIN_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	a := ensureTimed(t, filepath.Join(dir, "a"), recipe.Toolchain)
	start := time.Now()
	if _, err := TreeDigest(a.Root); err != nil {
		t.Fatal(err)
	}
	t.Logf("TreeDigest(%s): %v", a.Root, time.Since(start).Round(time.Millisecond))
	ensureTimed(t, filepath.Join(dir, "a"), recipe.Toolchain)
	if os.Getenv("MEASURE_TOOLCHAIN_TWICE") != "" {
		if b := ensureTimed(t, filepath.Join(dir, "b"), recipe.Toolchain); b.Digest != a.Digest {
			t.Errorf("two runs gave %s and %s", a.Digest, b.Digest)
		}
	}
}

// TestMmdebstrapInterrupted cancels a real mmdebstrap run: Ensure returns
// the context's error soon after and leaves nothing in the cache's tmp/.
func TestMmdebstrapInterrupted(t *testing.T) {
	s := Spec{Suite: "trixie", Mirror: "http://deb.debian.org/debian", Variant: "essential", Packages: []string{"bc"}}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	start := time.Now()
	_, err := (&Cache{Dir: dir, Runner: run.Exec{}}).Ensure(ctx, s)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Ensure() error = %v, want DeadlineExceeded", err)
	}
	t.Logf("Ensure returned %v after %v", err, time.Since(start).Round(time.Millisecond))
	if _, err := os.Stat(filepath.Join(dir, "tmp")); !errors.Is(err, os.ErrNotExist) {
		des, _ := os.ReadDir(filepath.Join(dir, "tmp"))
		t.Errorf("tmp/ after an interrupted Ensure: %v %v", des, err)
	}
}
