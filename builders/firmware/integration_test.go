//go:build integration

package firmware

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/measure-cc/measure/builders/run"
	"github.com/measure-cc/measure/builders/toolchain"
)

// Debian's shipped files (ovmf 2025.02-8+deb13u1, /work/shared/fixtures/SHA256SUMS).
var debianTrixie = map[string]string{
	"OVMF.fd":         "14954040cc754ade0c625ac3470ea46d4c14318b5b1396de4ef77090203d76db",
	"OVMF_CODE_4M.fd": "624e06de18b4fa535e90db7160d00d3d07d206422b89999bf1e27d920264e4e0",
	"OVMF_VARS_4M.fd": "5d2ac383371b408398accee7ec27c8c09ea5b74a0de0ceea6513388b15be5d1e",
}

func integrationBuilder(t *testing.T) *Builder {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the sandbox needs root")
	}
	cache := os.Getenv("MEASURE_CACHE")
	if cache == "" {
		cache = "/var/cache/measure"
	}
	return &Builder{
		CacheDir:   cache,
		Runner:     run.Exec{},
		Fetch:      http.DefaultClient,
		Toolchains: &toolchain.Cache{Dir: cache, Runner: run.Exec{}, Progress: os.Stderr},
		Progress:   os.Stderr,
	}
}

// TestIntegrationDebianTrixie rebuilds Debian's OVMF and compares it with
// the files Debian ships.
func TestIntegrationDebianTrixie(t *testing.T) {
	b := integrationBuilder(t)
	r, err := LookupRecipe("debian-trixie")
	if err != nil {
		t.Fatal(err)
	}
	res, err := b.Build(context.Background(), r, Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Files {
		if want := debianTrixie[f.Name]; f.SHA256 != want {
			t.Errorf("%s sha256 = %s, want Debian's %s", f.Name, f.SHA256, want)
		}
	}
	t.Logf("build time %s", res.BuildTime)
}

// TestIntegrationCheck runs Check for the recipes named in
// MEASURE_CHECK_RECIPES (comma-separated; default debian-trixie).
func TestIntegrationCheck(t *testing.T) {
	b := integrationBuilder(t)
	names := os.Getenv("MEASURE_CHECK_RECIPES")
	if names == "" {
		names = "debian-trixie"
	}
	for _, name := range strings.Split(names, ",") {
		t.Run(name, func(t *testing.T) {
			r, err := LookupRecipe(name)
			if err != nil {
				t.Fatal(err)
			}
			res, err := b.Check(context.Background(), r, filepath.Join(t.TempDir(), name))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: builds of %s and %s give identical bytes", name, res.A.BuildTime, res.B.BuildTime)
		})
	}
}
