// Package initramfs builds a guest initramfs bit for bit: a newc cpio
// archive, written with u-root's pkg/cpio, holding a Go init program and a
// list of files, compressed with gzip.
//
// Determinism comes from three places. The init program is built with
// `go build -trimpath -buildvcs=false -ldflags=-buildid=` and CGO_ENABLED=0
// in an environment that holds nothing of the caller's but cache locations.
// Every record is normalised with cpio.MakeReproducible (zero mtime, uid,
// gid and device numbers), records are sorted by path with every parent
// directory present, inodes are numbered in that order, and modes come from
// the spec, not from the host's umask. The gzip stream has no name, no
// mtime and a fixed level.
//
// It does not build kernels (see builders/kernel) nor decide which files a
// guest needs (see builders/guest). It is the only package that uses u-root.
package initramfs

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/measure-cc/measure/builders/run"
	"github.com/measure-cc/measure/internal/atomicfile"
)

// Paths and modes every archive has besides its files.
const (
	// InitPath is where the init program goes: the kernel runs /init from
	// an initramfs.
	InitPath = "init"
	// ConsolePath is the console device node (char 5:1), so that the kernel
	// can give init its standard streams.
	ConsolePath = "dev/console"
	// DirMode is the permission of every directory.
	DirMode = 0o755
	// ExecMode and FileMode are the default permissions of files with and
	// without an execute bit on the host.
	ExecMode = 0o755
	FileMode = 0o644
	// MaxFileSize bounds one file, so that a device or a mistake does not
	// fill memory.
	MaxFileSize = 1 << 30
)

// BaseDirs are the directories every archive has.
var BaseDirs = []string{"dev", "proc", "sys", "tmp"}

// GoBuildFlags are the flags the init program is built with, after `go build`.
var GoBuildFlags = []string{"-trimpath", "-buildvcs=false", "-ldflags=-buildid="}

// GoEnv is the fixed part of the environment of `go build`: no cgo, a fixed
// target, no GOFLAGS from the caller, the local toolchain only, no network.
var GoEnv = []string{
	"CGO_ENABLED=0",
	"GOOS=linux",
	"GOARCH=amd64",
	"GOAMD64=v1",
	"GOFLAGS=",
	"GOTOOLCHAIN=local",
	"GOPROXY=off",
	"GOWORK=off",
	"GOEXPERIMENT=",
}

// File is one file placed in the archive.
type File struct {
	// Source is the file's path on the host.
	Source string `json:"source"`
	// Path is where it goes in the archive, relative to / (a leading slash
	// is dropped).
	Path string `json:"path"`
	// Mode is the permission bits; 0 picks ExecMode when the host file has
	// an execute bit and FileMode otherwise.
	Mode uint32 `json:"mode,omitempty"`
}

// Spec says what goes into an initramfs.
type Spec struct {
	// Init is the directory of a Go main package built as /init.
	Init string `json:"init"`
	// GoVersion, when set, is the Go version (such as "go1.26.8") the init
	// program must be built with; another one is an error, since it makes
	// other bytes.
	GoVersion string `json:"goVersion,omitempty"`
	// Files are added as they are, with their parent directories.
	Files []File `json:"files,omitempty"`
}

// Entry is one record of the archive before it is written.
type Entry struct {
	// Path is relative to /, without a leading slash.
	Path string
	// Mode holds the file type (cpio.S_IFREG, S_IFDIR, S_IFCHR) and the
	// permission bits.
	Mode uint64
	// Data is a regular file's content.
	Data []byte
	// Rmajor and Rminor are a device's numbers.
	Rmajor, Rminor uint64
}

// Builder builds initramfs archives. Runner runs `go build`; a test replaces
// it with a fake that writes the binary.
type Builder struct {
	// Runner runs `go build`.
	Runner run.Runner
	// Go is the go command; empty is "go" (looked up in PATH).
	Go string
	// CacheEnv is the caller's PATH, HOME, GOCACHE, GOMODCACHE and GOPATH:
	// where go finds itself and keeps its caches. They do not change the
	// output.
	CacheEnv []string
	// WorkDir receives the built init program; empty is a fresh temporary
	// directory, removed afterwards.
	WorkDir string
	// Progress, when not nil, receives one line per step.
	Progress io.Writer
	// ReadBuildInfo reads a Go binary's build information; nil is
	// debug/buildinfo.ReadFile.
	ReadBuildInfo func(path string) (*buildinfo.BuildInfo, error)
}

// Artifact is a file the build made or used, with its digest.
type Artifact struct {
	Name   string `json:"name"`
	Path   string `json:"path,omitempty"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Result is what Build made.
type Result struct {
	// Archive is the gzip-compressed cpio archive.
	Archive Artifact `json:"archive"`
	// Init is the init program that went in as /init.
	Init Artifact `json:"init"`
	// GoVersion and GoSettings come from the init program's build
	// information (debug/buildinfo).
	GoVersion  string            `json:"goVersion"`
	GoSettings map[string]string `json:"goSettings"`
	// Inputs are the files of the spec with their digests, sorted by path
	// in the archive.
	Inputs []Artifact `json:"inputs,omitempty"`
	// Entries are the archive's paths in order.
	Entries []string `json:"entries"`
}

func (b *Builder) progressf(format string, a ...any) {
	if b.Progress != nil {
		fmt.Fprintf(b.Progress, format+"\n", a...)
	}
}

// GoBuildCmd returns the command that builds the Go main package in dir into
// out.
func (b *Builder) GoBuildCmd(dir, out string) *run.Cmd {
	goCmd := b.Go
	if goCmd == "" {
		goCmd = "go"
	}
	args := append([]string{goCmd, "build"}, GoBuildFlags...)
	args = append(args, "-o", out, ".")
	env := append(append([]string(nil), b.CacheEnv...), GoEnv...)
	sort.Strings(env)
	return &run.Cmd{Args: args, Env: env, Dir: dir}
}

// BuildInit builds the init program of spec into out and checks its Go
// version against the pin.
func (b *Builder) BuildInit(ctx context.Context, spec *Spec, out string) (*buildinfo.BuildInfo, error) {
	if spec.Init == "" {
		return nil, errors.New("initramfs: no init program")
	}
	dir, err := filepath.Abs(spec.Init)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("initramfs init %q: %w", spec.Init, err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("initramfs init %q is not a directory, want a Go main package", spec.Init)
	}
	var log bytes.Buffer
	c := b.GoBuildCmd(dir, out)
	c.Stdout, c.Stderr = &log, &log
	b.progressf("go build %s", spec.Init)
	if err := b.Runner.Run(ctx, c); err != nil {
		return nil, fmt.Errorf("initramfs init %q: %w\n%s", spec.Init, err, bytes.TrimSpace(log.Bytes()))
	}
	read := b.ReadBuildInfo
	if read == nil {
		read = buildinfo.ReadFile
	}
	bi, err := read(out)
	if err != nil {
		return nil, fmt.Errorf("initramfs init %q: reading build information of %q: %w", spec.Init, out, err)
	}
	if spec.GoVersion != "" && bi.GoVersion != spec.GoVersion {
		return nil, fmt.Errorf("initramfs init %q: built with %s, want %s (set GOTOOLCHAIN=%s or change the pin)", spec.Init, bi.GoVersion, spec.GoVersion, spec.GoVersion)
	}
	return bi, nil
}

// Build builds spec's init program, collects its files and writes the
// compressed archive to out.
func (b *Builder) Build(ctx context.Context, spec *Spec, out string) (*Result, error) {
	work := b.WorkDir
	if work == "" {
		d, err := os.MkdirTemp("", "measure-initramfs-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		work = d
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	initOut := filepath.Join(work, "init")
	bi, err := b.BuildInit(ctx, spec, initOut)
	if err != nil {
		return nil, err
	}
	initData, err := readLimit(initOut)
	if err != nil {
		return nil, err
	}
	res := &Result{
		Init:       Artifact{Name: InitPath, SHA256: sha256Hex(initData), Size: int64(len(initData))},
		GoVersion:  bi.GoVersion,
		GoSettings: map[string]string{},
	}
	for _, s := range bi.Settings {
		res.GoSettings[s.Key] = s.Value
	}
	entries := []Entry{{Path: InitPath, Mode: cpio.S_IFREG | ExecMode, Data: initData}}
	for _, f := range spec.Files {
		e, err := fileEntry(f)
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
		res.Inputs = append(res.Inputs, Artifact{Name: e.Path, Path: f.Source, SHA256: sha256Hex(e.Data), Size: int64(len(e.Data))})
	}
	sort.Slice(res.Inputs, func(i, j int) bool { return res.Inputs[i].Name < res.Inputs[j].Name })
	var buf bytes.Buffer
	paths, err := Write(&buf, entries)
	if err != nil {
		return nil, err
	}
	res.Entries = paths
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteBytes(out, 0o644, buf.Bytes()); err != nil {
		return nil, err
	}
	res.Archive = Artifact{Name: filepath.Base(out), Path: out, SHA256: sha256Hex(buf.Bytes()), Size: int64(buf.Len())}
	b.progressf("initramfs %s: %d entries, %d bytes", out, len(paths), buf.Len())
	return res, nil
}

func fileEntry(f File) (Entry, error) {
	p, err := cleanPath(f.Path)
	if err != nil {
		return Entry{}, err
	}
	st, err := os.Stat(f.Source)
	if err != nil {
		return Entry{}, fmt.Errorf("initramfs file %q: %w", f.Path, err)
	}
	if !st.Mode().IsRegular() {
		return Entry{}, fmt.Errorf("initramfs file %q: source %q is not a regular file", f.Path, f.Source)
	}
	mode := uint64(f.Mode)
	if mode&^0o7777 != 0 {
		return Entry{}, fmt.Errorf("initramfs file %q: mode %#o, want permission bits only", f.Path, f.Mode)
	}
	data, err := readLimit(f.Source)
	if err != nil {
		return Entry{}, fmt.Errorf("initramfs file %q: %w", f.Path, err)
	}
	if mode == 0 {
		mode = FileMode
		if st.Mode().Perm()&0o111 != 0 {
			mode = ExecMode
		}
	}
	return Entry{Path: p, Mode: cpio.S_IFREG | mode, Data: data}, nil
}

// cleanPath makes p relative to / and refuses what would escape or be
// empty.
func cleanPath(p string) (string, error) {
	c := cpio.Normalize(p)
	if c == "." || c == "" || c == ".." || strings.HasPrefix(c, "../") || strings.Contains(p, "\x00") {
		return "", fmt.Errorf("initramfs path %q: want a file path inside the archive", p)
	}
	return c, nil
}

// Write writes entries as a gzip-compressed newc cpio archive: the base
// directories, /dev/console and every parent directory are added, paths are
// sorted, inodes numbered in order, and every record normalised with
// cpio.MakeReproducible. It returns the archive's paths in order. Two
// entries with one path are an error.
func Write(w io.Writer, entries []Entry) ([]string, error) {
	recs, err := Records(entries)
	if err != nil {
		return nil, err
	}
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	// No name, no comment, no mtime; OS "unknown", as Go writes it.
	zw.Header = gzip.Header{OS: 255}
	cw := cpio.Newc.Writer(zw)
	if err := cpio.WriteRecords(cw, recs); err != nil {
		return nil, fmt.Errorf("initramfs: %w", err)
	}
	if err := cpio.WriteTrailer(cw); err != nil {
		return nil, fmt.Errorf("initramfs: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	paths := make([]string, len(recs))
	for i, r := range recs {
		paths[i] = r.Name
	}
	return paths, nil
}

// Records returns the cpio records of entries, as Write writes them.
func Records(entries []Entry) ([]cpio.Record, error) {
	byPath := map[string]Entry{}
	add := func(e Entry) error {
		if old, ok := byPath[e.Path]; ok {
			if old.Mode&cpio.S_IFMT == cpio.S_IFDIR && e.Mode&cpio.S_IFMT == cpio.S_IFDIR {
				return nil
			}
			return fmt.Errorf("initramfs path %q appears twice", e.Path)
		}
		byPath[e.Path] = e
		return nil
	}
	for _, d := range BaseDirs {
		if err := add(Entry{Path: d, Mode: cpio.S_IFDIR | DirMode}); err != nil {
			return nil, err
		}
	}
	if err := add(Entry{Path: ConsolePath, Mode: cpio.S_IFCHR | 0o600, Rmajor: 5, Rminor: 1}); err != nil {
		return nil, err
	}
	for _, e := range entries {
		p, err := cleanPath(e.Path)
		if err != nil {
			return nil, err
		}
		e.Path = p
		if err := add(e); err != nil {
			return nil, err
		}
	}
	// Parents: the kernel does not create missing directories.
	for p := range keySet(byPath) {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if e, ok := byPath[d]; ok {
				if e.Mode&cpio.S_IFMT != cpio.S_IFDIR {
					return nil, fmt.Errorf("initramfs path %q: parent %q is not a directory", p, d)
				}
				continue
			}
			byPath[d] = Entry{Path: d, Mode: cpio.S_IFDIR | DirMode}
		}
	}
	paths := make([]string, 0, len(byPath))
	for p := range byPath {
		paths = append(paths, p)
	}
	// Sorted by path, a directory comes before everything under it.
	sort.Strings(paths)
	recs := make([]cpio.Record, len(paths))
	for i, p := range paths {
		e := byPath[p]
		var r cpio.Record
		switch e.Mode & cpio.S_IFMT {
		case cpio.S_IFREG:
			r = cpio.StaticRecord(e.Data, cpio.Info{Name: p, Mode: e.Mode})
		case cpio.S_IFDIR:
			r = cpio.Directory(p, e.Mode&^cpio.S_IFMT)
		case cpio.S_IFCHR:
			r = cpio.CharDev(p, e.Mode&^cpio.S_IFMT, e.Rmajor, e.Rminor)
		default:
			return nil, fmt.Errorf("initramfs path %q: file type %#o is not supported", p, e.Mode&cpio.S_IFMT)
		}
		r.Ino = uint64(i + 1)
		// One link each: MakeReproducible would turn a count above one
		// into an invalid value, and the kernel only reads it to find
		// hard links.
		r.NLink = 1
		recs[i] = cpio.MakeReproducible(r)
	}
	return recs, nil
}

// keySet returns a copy of m's keys as a set, so that m can grow while
// they are walked.
func keySet(m map[string]Entry) map[string]struct{} {
	s := make(map[string]struct{}, len(m))
	for k := range m {
		s[k] = struct{}{}
	}
	return s
}

func readLimit(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%q is larger than %d bytes", p, MaxFileSize)
	}
	return data, nil
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
