//go:build integration

package firmware

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/measure-cc/measure/builders/engine"
	"github.com/measure-cc/measure/builders/run"
	"github.com/measure-cc/measure/builders/sandbox"
	"github.com/measure-cc/measure/builders/toolchain"
)

// Debian's shipped files (ovmf 2025.02-8+deb13u1, /work/shared/fixtures/SHA256SUMS).
var debianTrixie = map[string]string{
	"OVMF.fd":         "14954040cc754ade0c625ac3470ea46d4c14318b5b1396de4ef77090203d76db",
	"OVMF_CODE_4M.fd": "624e06de18b4fa535e90db7160d00d3d07d206422b89999bf1e27d920264e4e0",
	"OVMF_VARS_4M.fd": "5d2ac383371b408398accee7ec27c8c09ea5b74a0de0ceea6513388b15be5d1e",
}

func integrationCache() string {
	if c := os.Getenv("MEASURE_CACHE"); c != "" {
		return c
	}
	return "/var/cache/measure"
}

func integrationBuilder(t *testing.T) *Builder {
	t.Helper()
	if err := engine.Preflight(); err != nil {
		t.Skipf("cannot build here: %v", err)
	}
	cache := integrationCache()
	p := &engine.Progress{W: os.Stderr}
	return NewBuilder(&engine.Engine{
		CacheDir:   cache,
		Runner:     run.Exec{},
		Fetch:      http.DefaultClient,
		Toolchains: &toolchain.Cache{Dir: filepath.Join(cache, "toolchain"), Runner: run.Exec{}, Progress: p},
		Progress:   p,
	}, 0)
}

// TestIntegrationDebianTrixie rebuilds Debian's OVMF and compares it with
// the files Debian ships.
func TestIntegrationDebianTrixie(t *testing.T) {
	b := integrationBuilder(t)
	r, err := LookupRecipe("debian-trixie")
	if err != nil {
		t.Fatal(err)
	}
	res, err := b.Build(context.Background(), r, engine.Options{OutDir: t.TempDir()})
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

// TestIntegrationSandboxOverhead builds the debian-trixie recipe in the
// sandbox, then runs the same steps, back to back, as root in a plain
// chroot of a copy of the same toolchain root (what the builder did before
// bubblewrap), and reports the ratio of the build steps' times. Both runs
// must give Debian's bytes.
func TestIntegrationSandboxOverhead(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the plain chroot needs root")
	}
	b := integrationBuilder(t)
	r, err := LookupRecipe("debian-trixie")
	if err != nil {
		t.Fatal(err)
	}
	res, err := b.Build(context.Background(), r, engine.Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	sandboxed := res.Steps[len(res.Steps)-1].Duration

	j := r.Job(0)
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	if out, err := exec.Command("cp", "-a", res.Toolchain.Root, root).CombinedOutput(); err != nil {
		t.Fatalf("copying the root: %v\n%s", err, out)
	}
	for _, d := range append([]string{j.Dir}, "/build/src", "/build/patches", "/proc", "/dev", "/tmp") {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	for _, in := range j.Inputs {
		data, err := os.ReadFile(filepath.Join(integrationCache(), "sources", in.SHA256))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(root, in.Path), data, 0o644)
	}
	for _, s := range j.Stage {
		os.WriteFile(filepath.Join(root, s.Path), s.Data, 0o644)
	}
	env := (&sandbox.Spec{Env: j.Env}).Environ()
	var plain time.Duration
	for _, st := range j.Steps {
		script := fmt.Sprintf("mount -t proc proc %[1]s/proc && mount --rbind /dev %[1]s/dev && mount -t tmpfs tmpfs %[1]s/tmp && exec chroot %[1]s /usr/bin/env -i %[2]s /bin/bash -e -o pipefail -c %[3]s",
			root, strings.Join(quoteAll(env), " "), run.Quote("cd "+j.Dir+"\numask 022\n"+st.Script))
		cmd := exec.Command("unshare", "--mount", "--pid", "--net", "--fork", "sh", "-c", script)
		log, _ := os.Create(filepath.Join(dir, st.Name+".log"))
		cmd.Stdout, cmd.Stderr = log, log
		t0 := time.Now()
		err := cmd.Run()
		log.Close()
		if err != nil {
			t.Fatalf("plain step %s: %v (log %s)", st.Name, err, log.Name())
		}
		plain = time.Since(t0)
	}
	for _, o := range j.Outputs {
		f, err := engine.CopyOut(root, strings.TrimPrefix(o.From, "/"), filepath.Join(dir, o.Name))
		if err != nil {
			t.Fatal(err)
		}
		if want := debianTrixie[o.Name]; f.SHA256 != want {
			t.Errorf("plain build: %s sha256 = %s, want Debian's %s", o.Name, f.SHA256, want)
		}
	}
	t.Logf("edk2 build step: sandboxed %s, plain chroot %s, ratio %.3f", sandboxed.Round(time.Second), plain.Round(time.Second), sandboxed.Seconds()/plain.Seconds())
}

func quoteAll(a []string) []string {
	q := make([]string, len(a))
	for i, s := range a {
		q[i] = run.Quote(s)
	}
	return q
}
