package firmware

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/measure-cc/measure/builders/run"
	"github.com/measure-cc/measure/builders/sandbox"
	"github.com/measure-cc/measure/builders/toolchain"
)

// Fetcher downloads a URL. *http.Client is one.
type Fetcher interface {
	Get(url string) (*http.Response, error)
}

// Toolchains makes toolchain roots. *toolchain.Cache is one.
type Toolchains interface {
	Ensure(ctx context.Context, s toolchain.Spec) (*toolchain.Toolchain, error)
}

// Builder builds recipes. Its fields are the outside world: a test replaces
// Runner, Fetch and Toolchains, and nothing runs.
type Builder struct {
	// CacheDir holds downloaded sources (sources/SHA256) and build work
	// directories (work/).
	CacheDir string
	// Runner runs the sandboxed build.
	Runner run.Runner
	// Fetch downloads sources.
	Fetch Fetcher
	// Toolchains makes the build root.
	Toolchains Toolchains
	// Jobs is build -n; 0 leaves edk2's default (one per CPU). The output
	// does not depend on it.
	Jobs int
	// Progress, when not nil, receives one line per step and a heartbeat
	// during long steps.
	Progress io.Writer
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// KeepWork keeps the work directory (the sandbox's upper directory)
	// after the build.
	KeepWork bool
}

// Options are the per-build settings.
type Options struct {
	// OutDir receives the outputs, build.log and the provenance inputs.
	OutDir string
	// Vary changes the conditions outside the sandbox (see Check).
	Vary sandbox.Variation
	// WorkName names the work directory under CacheDir/work; empty picks a
	// fresh one.
	WorkName string
}

// File is one output file.
type File struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Result is what a build made.
type Result struct {
	Recipe    *Recipe
	Toolchain *toolchain.Toolchain
	Files     []File
	// Log is the path of the build log.
	Log string
	// Provenance holds the inputs of the SLSA provenance statement.
	Provenance *ProvenanceInputs
	// Started and Finished time the whole build; BuildTime times the
	// sandboxed step alone.
	Started, Finished time.Time
	BuildTime         time.Duration
}

func (b *Builder) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func (b *Builder) progressf(format string, a ...any) {
	if b.Progress != nil {
		fmt.Fprintf(b.Progress, format+"\n", a...)
	}
}

// Sources downloads r's sources into the cache (or finds them there),
// checks their sha256, and returns their paths on the host.
func (b *Builder) Sources(r *Recipe) ([]string, error) {
	dir := filepath.Join(b.CacheDir, "sources")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	paths := make([]string, len(r.Sources))
	for i, s := range r.Sources {
		p := filepath.Join(dir, s.SHA256)
		paths[i] = p
		if got, err := fileSHA256(p); err == nil && got == s.SHA256 {
			continue
		}
		b.progressf("downloading %s", s.URL)
		if err := b.download(s, p); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

func (b *Builder) download(s Source, dst string) error {
	resp, err := b.Fetch.Get(s.URL)
	if err != nil {
		return fmt.Errorf("downloading %q: %w", s.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("downloading %q: %s", s.URL, resp.Status)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".download-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), resp.Body); err != nil {
		tmp.Close()
		return fmt.Errorf("downloading %q: %w", s.URL, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != s.SHA256 {
		return fmt.Errorf("source %q: sha256 %s, want %s", s.URL, got, s.SHA256)
	}
	return os.Rename(tmp.Name(), dst)
}

// Build builds r once.
func (b *Builder) Build(ctx context.Context, r *Recipe, o Options) (*Result, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if o.OutDir == "" {
		return nil, errors.New("build: no output directory")
	}
	res := &Result{Recipe: r, Started: b.now()}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, err
	}
	res.Log = filepath.Join(o.OutDir, "build.log")
	logf, err := os.Create(res.Log)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	log := NewLogWriter(logf)

	srcs, err := b.Sources(r)
	if err != nil {
		return nil, err
	}
	tc, err := b.Toolchains.Ensure(ctx, r.Toolchain)
	if err != nil {
		return nil, err
	}
	res.Toolchain = tc

	work := o.WorkName
	if work == "" {
		work = fmt.Sprintf("%s-%d", r.Name, res.Started.UnixNano())
	}
	spec := &sandbox.Spec{
		Root:  tc.Root,
		Work:  filepath.Join(b.CacheDir, "work", work),
		Dir:   r.Build.Dir,
		Env:   r.Env(),
		Shell: "/bin/bash",
		Vary:  o.Vary,
	}
	if err := os.RemoveAll(spec.Work); err != nil {
		return nil, err
	}
	if !b.KeepWork {
		defer os.RemoveAll(spec.Work)
	}
	if err := b.stage(r, spec, srcs); err != nil {
		return nil, err
	}
	cmd, err := spec.Command(r.Script(b.Jobs))
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "# toolchain %s\n# %s\n", tc.Digest, cmd.String())
	cmd.Stdout, cmd.Stderr = log, log
	b.progressf("building %s (%s) in %s", r.Name, r.Build.Platform, spec.Work)
	t0 := b.now()
	stop := Heartbeat(b.Progress, b.now, t0, log)
	err = b.Runner.Run(ctx, cmd)
	stop()
	res.BuildTime = b.now().Sub(t0)
	if err != nil {
		return nil, fmt.Errorf("recipe %q: %w (log %s)", r.Name, err, res.Log)
	}
	for _, out := range r.Outputs {
		f, err := CopyOut(spec.HostPath(filepath.Join(r.Build.Dir, out.From)), filepath.Join(o.OutDir, out.Name))
		if err != nil {
			return nil, fmt.Errorf("recipe %q output %q: %w", r.Name, out.From, err)
		}
		f.Name = out.Name
		res.Files = append(res.Files, f)
	}
	res.Finished = b.now()
	b.progressf("built %s in %s", r.Name, res.BuildTime.Round(time.Second))
	res.Provenance, err = provenanceInputs(r, tc, res)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// stage puts the sources, the embedded patches and the build directory in
// the sandbox's upper directory, owned by the sandbox user.
func (b *Builder) stage(r *Recipe, spec *sandbox.Spec, srcs []string) error {
	mk := func(p string) error {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
		return chownUp(p, spec.UpperDir())
	}
	if err := mk(spec.HostPath(r.Build.Dir)); err != nil {
		return err
	}
	if err := mk(spec.HostPath(srcDir)); err != nil {
		return err
	}
	if err := mk(spec.HostPath(patchDir)); err != nil {
		return err
	}
	for i, p := range srcs {
		dst := spec.HostPath(r.sourcePath(i))
		if err := os.Link(p, dst); err != nil {
			if _, err := CopyOut(p, dst); err != nil {
				return err
			}
		}
	}
	for _, f := range r.Patches.Files {
		data, err := EmbeddedPatch(f)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(spec.HostPath(patchDir), f), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// chownUp gives p and its parents up to (not including) top to the sandbox
// user, so that the build can write where it must.
func chownUp(p, top string) error {
	for ; p != top && strings.HasPrefix(p, top); p = filepath.Dir(p) {
		if err := os.Lchown(p, sandbox.UID, sandbox.GID); err != nil {
			return err
		}
	}
	return nil
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return sha256Hex(f)
}

func sha256Hex(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}
