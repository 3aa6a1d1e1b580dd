// Package engine is the one build engine of measure's builders: a Job is a
// list of steps that run, one after the other, in a sandbox (builders/sandbox)
// over a pinned toolchain root (builders/toolchain), with inputs pinned by
// sha256 and verified before anything reads them, producing output files
// that are copied out without following any link. Check builds a Job twice
// under varied outside conditions and compares every output byte for byte.
//
// The firmware, kernel and guest builders only turn their recipes into Jobs
// and provenance; nothing else of theirs runs processes. The engine does not
// know what a step does, nor how provenance is encoded (see provenance).
//
// The cache directory holds sources/SHA256 (downloaded inputs), work/NAME
// (one work tree per build, removed when it ends unless kept), the toolchain
// cache and build.lock, which every build holds while it runs.
package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/measure-cc/measure/builders/run"
	"github.com/measure-cc/measure/builders/sandbox"
	"github.com/measure-cc/measure/builders/toolchain"
	"github.com/measure-cc/measure/internal/atomicfile"
)

// Fetcher downloads a URL. *http.Client is one.
type Fetcher interface {
	Get(url string) (*http.Response, error)
}

// Toolchains makes toolchain roots. *toolchain.Cache is one.
type Toolchains interface {
	Ensure(ctx context.Context, s toolchain.Spec) (*toolchain.Toolchain, error)
}

// Input is a file pinned by sha256, downloaded once into the cache and bound
// read-only into the sandbox at Path.
type Input struct {
	// URL is where it is downloaded from.
	URL string
	// SHA256 is its hex sha256; any other bytes are an error.
	SHA256 string
	// Path is where a step finds it, under sandbox.WorkMount.
	Path string
}

// Stage is a file the engine writes into the work tree before the first
// step (a patch, a configuration fragment).
type Stage struct {
	// Path is its place inside, under sandbox.WorkMount.
	Path string
	// Data is its content.
	Data []byte
}

// Step is one command of a build, a bash script run with -e and pipefail.
type Step struct {
	// Name names the step in progress lines and logs ("unpack", "build").
	Name string
	// Script is the bash script.
	Script string
	// Prepare marks the steps that lay out the sources; `build shell` runs
	// them before its command.
	Prepare bool
}

// Output is a file the build keeps.
type Output struct {
	// From is its path inside, under sandbox.WorkMount.
	From string
	// Name is its file name in the output directory.
	Name string
}

// Job is one build.
type Job struct {
	// Name names the build in messages ("firmware debian-trixie").
	Name string
	// Toolchain is the root the steps run in.
	Toolchain toolchain.Spec
	// Inputs are bound read-only into the sandbox.
	Inputs []Input
	// Dirs are made in the work tree, writable by the steps.
	Dirs []string
	// Stage are written into the work tree.
	Stage []Stage
	// Dir is the steps' working directory, under sandbox.WorkMount.
	Dir string
	// Env is added to the sandbox's fixed environment.
	Env []string
	// Steps run in order; the first that fails ends the build.
	Steps []Step
	// Outputs are copied to the output directory.
	Outputs []Output
}

var (
	outNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)
	sha256RE  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Validate checks that every path of j lies in the work tree and every
// output name is a plain file name.
func (j *Job) Validate() error {
	var errs []error
	inWork := func(what, p string) {
		if !path.IsAbs(p) || path.Clean(p) != p {
			errs = append(errs, fmt.Errorf("%s %q: want a clean absolute path", what, p))
			return
		}
		if rel, ok := sandbox.WorkRel(p); !ok || rel == "." {
			errs = append(errs, fmt.Errorf("%s %q: want a path under %s", what, p, sandbox.WorkMount))
		}
	}
	if j.Dir != sandbox.WorkMount {
		inWork("directory", j.Dir)
	}
	for _, in := range j.Inputs {
		inWork("input", in.Path)
		if !sha256RE.MatchString(in.SHA256) {
			errs = append(errs, fmt.Errorf("input %q: sha256 %q: want 64 lower-case hex digits", in.URL, in.SHA256))
		}
	}
	for _, d := range j.Dirs {
		inWork("directory", d)
	}
	for _, f := range j.Stage {
		inWork("file", f.Path)
	}
	seen := map[string]bool{}
	for _, o := range j.Outputs {
		inWork("output", o.From)
		if !outNameRE.MatchString(o.Name) {
			errs = append(errs, fmt.Errorf("output %q: name %q: want a plain file name", o.From, o.Name))
		}
		if seen[o.Name] {
			errs = append(errs, fmt.Errorf("output name %q appears twice", o.Name))
		}
		seen[o.Name] = true
	}
	if len(j.Steps) == 0 {
		errs = append(errs, errors.New("no steps"))
	}
	if len(j.Outputs) == 0 {
		errs = append(errs, errors.New("no outputs"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("build %s: %w", j.Name, err)
	}
	return nil
}

// Engine runs Jobs. Its fields are the outside world: a test replaces
// Runner, Fetch and Toolchains, and nothing runs.
type Engine struct {
	// CacheDir holds sources, work trees and the build lock.
	CacheDir string
	// Runner runs the sandboxed steps.
	Runner run.Runner
	// Fetch downloads inputs.
	Fetch Fetcher
	// Toolchains makes the toolchain roots.
	Toolchains Toolchains
	// Progress receives step lines and heartbeats; nil is silent.
	Progress *Progress
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// KeepWork keeps the work tree after the build (and after a failure).
	KeepWork bool
}

// Options are the per-build settings.
type Options struct {
	// OutDir receives the outputs and build.log.
	OutDir string
	// Vary changes the conditions outside the sandbox (see Check).
	Vary sandbox.Variation
	// WorkName names the work tree under CacheDir/work; empty picks one.
	WorkName string
}

// File is one output file.
type File struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// StepTime is how long a step ran.
type StepTime struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"duration"`
}

// Result is what a build made.
type Result struct {
	Job       *Job
	Toolchain *toolchain.Toolchain
	Files     []File
	// Log is the path of the build log.
	Log string
	// Started and Finished time the whole build; BuildTime the steps.
	Started, Finished time.Time
	BuildTime         time.Duration
	Steps             []StepTime
}

// File returns the output called name.
func (r *Result) File(name string) (File, bool) {
	for _, f := range r.Files {
		if f.Name == name {
			return f, true
		}
	}
	return File{}, false
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// ErrInterrupted wraps the error of a build whose context was cancelled.
var ErrInterrupted = errors.New("interrupted")

// Build builds j once.
func (e *Engine) Build(ctx context.Context, j *Job, o Options) (res *Result, err error) {
	if err := j.Validate(); err != nil {
		return nil, err
	}
	if o.OutDir == "" {
		return nil, fmt.Errorf("build %s: no output directory", j.Name)
	}
	defer func() {
		if err != nil && ctx.Err() != nil && !errors.Is(err, ErrInterrupted) {
			err = fmt.Errorf("build %s %w (%w)", j.Name, ErrInterrupted, err)
		}
	}()
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, err
	}
	if err := CheckRootOwned(o.OutDir); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	unlock, err := e.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()

	res = &Result{Job: j, Started: e.now(), Log: filepath.Join(o.OutDir, "build.log")}
	logf, err := CreateLog(res.Log)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	log := NewLogWriter(logf)

	inputs, err := e.inputs(ctx, j)
	if err != nil {
		return nil, err
	}
	tc, err := e.Toolchains.Ensure(ctx, j.Toolchain)
	if err != nil {
		return nil, err
	}
	res.Toolchain = tc
	name := o.WorkName
	if name == "" {
		name = fmt.Sprintf("%s-%d", strings.ReplaceAll(j.Name, " ", "-"), res.Started.UnixNano())
	}
	work, err := e.workTree(name, tc, j)
	if err != nil {
		return nil, err
	}
	done, err := e.keepOrRemove(work)
	if err != nil {
		return nil, err
	}
	defer done()
	fmt.Fprintf(log, "# build %s\n# toolchain %s\n", j.Name, tc.Digest)
	t0 := e.now()
	for _, st := range j.Steps {
		spec := e.spec(j, tc, work, inputs, o.Vary, sandbox.Script(st.Script))
		if err := e.step(ctx, j, st.Name, spec, log); err != nil {
			return nil, err
		}
		res.Steps = append(res.Steps, StepTime{Name: st.Name, Duration: e.now().Sub(t0)})
	}
	res.BuildTime = e.now().Sub(t0)
	for i := len(res.Steps) - 1; i > 0; i-- {
		res.Steps[i].Duration -= res.Steps[i-1].Duration
	}
	for _, out := range j.Outputs {
		rel, _ := sandbox.WorkRel(out.From)
		f, err := CopyOut(work, rel, filepath.Join(o.OutDir, out.Name))
		if err != nil {
			return nil, fmt.Errorf("build %s output %q: %w", j.Name, out.From, err)
		}
		f.Name = out.Name
		res.Files = append(res.Files, f)
	}
	res.Finished = e.now()
	e.Progress.Linef("built %s in %s", j.Name, res.BuildTime.Round(time.Second))
	return res, nil
}

// keepOrRemove returns what to do with work when the build ends: with
// KeepWork, mark it kept (the next build's sweep leaves it) and say where it
// is; otherwise remove it.
func (e *Engine) keepOrRemove(work string) (done func(), err error) {
	if !e.KeepWork {
		return func() { os.RemoveAll(work) }, nil
	}
	if err := os.WriteFile(work+keepSuffix, nil, 0o600); err != nil {
		return nil, err
	}
	return func() { e.Progress.Linef("work tree kept at %s", work) }, nil
}

// spec is the sandbox of one step of j.
func (e *Engine) spec(j *Job, tc *toolchain.Toolchain, work string, inputs []sandbox.Bind, vary sandbox.Variation, args []string) *sandbox.Spec {
	dir := j.Dir
	if dir == "" {
		dir = sandbox.WorkMount
	}
	return &sandbox.Spec{Root: tc.Root, Work: work, Binds: inputs, Dir: dir, Env: j.Env, Args: args, Vary: vary}
}

// step runs one sandboxed step, its output into log.
func (e *Engine) step(ctx context.Context, j *Job, name string, spec *sandbox.Spec, log *LogWriter) error {
	cmd, err := spec.Command()
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "# step %s\n# %s\n", name, cmd.String())
	cmd.Stdout, cmd.Stderr = log, log
	stop := e.Progress.Step(j.Name+": "+name, log)
	err = e.Runner.Run(ctx, cmd)
	if err != nil && ctx.Err() != nil {
		stop(ErrInterrupted)
	} else {
		stop(err)
	}
	if err != nil {
		if ctx.Err() != nil {
			what := "work tree removed"
			if e.KeepWork {
				what = "work tree kept"
			}
			return fmt.Errorf("build %s %w in step %s (%s; %w)", j.Name, ErrInterrupted, name, what, ctx.Err())
		}
		e.Progress.Tail(log.Tail())
		return fmt.Errorf("build %s step %s: %w (log %s)", j.Name, name, err, log.Name())
	}
	return nil
}

// Shell runs args in the sandbox a step of j gets, after j's Prepare steps,
// with stdin, stdout and stderr connected to the caller's. The work tree is
// kept when KeepWork is set.
func (e *Engine) Shell(ctx context.Context, j *Job, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if err := j.Validate(); err != nil {
		return err
	}
	unlock, err := e.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	inputs, err := e.inputs(ctx, j)
	if err != nil {
		return err
	}
	tc, err := e.Toolchains.Ensure(ctx, j.Toolchain)
	if err != nil {
		return err
	}
	work, err := e.workTree(fmt.Sprintf("shell-%d", e.now().UnixNano()), tc, j)
	if err != nil {
		return err
	}
	done, err := e.keepOrRemove(work)
	if err != nil {
		return err
	}
	defer done()
	// The prepare steps' output is shown only when one fails (its last
	// lines); the command's own goes to the caller.
	log := NewLogWriter(io.Discard)
	for _, st := range j.Steps {
		if !st.Prepare {
			continue
		}
		if err := e.step(ctx, j, st.Name, e.spec(j, tc, work, inputs, sandbox.Variation{}, sandbox.Script(st.Script)), log); err != nil {
			return err
		}
	}
	cmd, err := e.spec(j, tc, work, inputs, sandbox.Variation{}, sandbox.Shell(args)).Command()
	if err != nil {
		return err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	return e.Runner.Run(ctx, cmd)
}

// inputs downloads (or finds in the cache) and verifies every input of j,
// and returns them as read-only binds.
func (e *Engine) inputs(ctx context.Context, j *Job) ([]sandbox.Bind, error) {
	dir := filepath.Join(e.CacheDir, "sources")
	if err := mkdirPrivate(dir); err != nil {
		return nil, err
	}
	var binds []sandbox.Bind
	for _, in := range j.Inputs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := filepath.Join(dir, in.SHA256)
		if got, err := fileSHA256(p); err != nil || got != in.SHA256 {
			if err == nil {
				e.Progress.Linef("cached %s has sha256 %s, want %s: downloading again", p, got, in.SHA256)
			}
			e.Progress.Linef("downloading %s", in.URL)
			if err := e.download(ctx, in, p); err != nil {
				return nil, err
			}
		}
		binds = append(binds, sandbox.Bind{Host: p, Path: in.Path})
	}
	return binds, nil
}

// maxInput bounds a download.
const maxInput = 4 << 30

func (e *Engine) download(ctx context.Context, in Input, dst string) error {
	resp, err := e.Fetch.Get(in.URL)
	if err != nil {
		return fmt.Errorf("downloading %q: %w", in.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("downloading %q: %s", in.URL, resp.Status)
	}
	h := sha256.New()
	err = atomicfile.Write(dst, 0o644, func(w io.Writer) error {
		n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(&ctxReader{ctx, resp.Body}, maxInput+1))
		if err != nil {
			return fmt.Errorf("downloading %q: %w", in.URL, err)
		}
		if n > maxInput {
			return fmt.Errorf("downloading %q: more than %d bytes", in.URL, maxInput)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != in.SHA256 {
			return fmt.Errorf("input %q: sha256 %s, want %s", in.URL, got, in.SHA256)
		}
		return nil
	})
	return err
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// workTree makes the work tree of a build: 0700, the sandbox user's, with
// j's directories and files, on a path the sandbox user may pass (and the
// toolchain root's too).
func (e *Engine) workTree(name string, tc *toolchain.Toolchain, j *Job) (string, error) {
	if strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return "", fmt.Errorf("work tree name %q", name)
	}
	if err := sandbox.CheckPassable(e.CacheDir); err != nil {
		return "", err
	}
	dir := filepath.Join(e.CacheDir, "work")
	if err := mkdirPrivate(dir); err != nil {
		return "", err
	}
	for _, p := range []string{e.CacheDir, dir, filepath.Join(e.CacheDir, "sources")} {
		if err := sandbox.Traversable(p); err != nil {
			return "", err
		}
	}
	// Every directory from the cache down to the toolchain root.
	if rel, err := filepath.Rel(e.CacheDir, filepath.Dir(tc.Root)); err == nil && !strings.HasPrefix(rel, "..") {
		for p := filepath.Dir(tc.Root); rel != "." && p != e.CacheDir; p = filepath.Dir(p) {
			if err := sandbox.Traversable(p); err != nil {
				return "", err
			}
		}
	}
	work := filepath.Join(dir, name)
	if err := os.RemoveAll(work); err != nil {
		return "", err
	}
	if err := os.Mkdir(work, 0o700); err != nil {
		return "", err
	}
	mk := func(p string) error {
		rel, _ := sandbox.WorkRel(p)
		cur := work
		for _, el := range strings.Split(rel, "/") {
			cur = filepath.Join(cur, el)
			if err := os.Mkdir(cur, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				return err
			}
			if err := sandbox.Own(cur); err != nil {
				return err
			}
		}
		return nil
	}
	var paths []string
	paths = append(paths, j.Dirs...)
	if j.Dir != "" && j.Dir != sandbox.WorkMount {
		paths = append(paths, j.Dir)
	}
	for _, in := range j.Inputs {
		paths = append(paths, path.Dir(in.Path))
	}
	for _, f := range j.Stage {
		paths = append(paths, path.Dir(f.Path))
	}
	for _, p := range paths {
		if p == sandbox.WorkMount {
			continue
		}
		if err := mk(p); err != nil {
			return "", err
		}
	}
	for _, in := range j.Inputs {
		// The mount point of the read-only bind.
		rel, _ := sandbox.WorkRel(in.Path)
		p := filepath.Join(work, rel)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			return "", err
		}
	}
	for _, f := range j.Stage {
		rel, _ := sandbox.WorkRel(f.Path)
		p := filepath.Join(work, rel)
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return "", err
		}
		if err := sandbox.Own(p); err != nil {
			return "", err
		}
	}
	if err := sandbox.Own(work); err != nil {
		return "", err
	}
	return work, nil
}

// mkdirPrivate makes dir and its missing parents 0700.
func mkdirPrivate(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return nil
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Preflight checks, before anything is downloaded, that this host can run
// builds: the sandbox (bubblewrap, user namespaces) and mmdebstrap for
// toolchain roots. Its error names the Debian package that is missing.
func Preflight() error {
	var errs []error
	if err := sandbox.Preflight(); err != nil {
		errs = append(errs, err)
	}
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		errs = append(errs, fmt.Errorf("%w: mmdebstrap (apt-get install mmdebstrap), which makes toolchain roots", sandbox.ErrMissing))
	}
	if os.Geteuid() != 0 {
		// mmdebstrap's unshare mode maps a range of subordinate ids.
		if u, err := user.Current(); err == nil {
			for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
				if !hasSubIDs(f, u.Username, u.Uid) {
					errs = append(errs, fmt.Errorf("%w: subordinate ids for %q in %s, which mmdebstrap needs (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s, as root)", sandbox.ErrMissing, u.Username, f, u.Username))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// hasSubIDs reports whether the subuid or subgid file f has a range for the
// user name or id.
func hasSubIDs(f, name, id string) bool {
	b, err := os.ReadFile(f)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if owner, _, ok := strings.Cut(line, ":"); ok && (owner == name || owner == id) {
			return true
		}
	}
	return false
}

// CreateLog creates a log file at p afresh: whatever stood there (a file,
// a symlink planted to make measure write elsewhere) is removed first, and
// the new file is opened with O_EXCL|O_NOFOLLOW.
func CreateLog(p string) (*os.File, error) {
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o644)
}
