//go:build !measure_front

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/measure-cc/measure/builders/engine"
	"github.com/measure-cc/measure/builders/initramfs"
)

// defaultInit is the init program's package, relative to a measure checkout.
const defaultInit = "./cmd/measure-init"

// initramfsOptions are the flags that say what goes into an initramfs.
type initramfsOptions struct {
	init      string
	files     []string
	goVersion string
}

func (o *initramfsOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.init, "init", defaultInit, "directory of the Go main package built as /init")
	fs.StringArrayVar(&o.files, "file", nil, "add a file: HOST_PATH:ARCHIVE_PATH[:OCTAL_MODE] (repeatable)")
	fs.StringVar(&o.goVersion, "go-version", "", "fail unless the init program is built with this Go version (go1.26.8)")
}

// spec turns the flags into an initramfs spec.
func (o *initramfsOptions) spec() (*initramfs.Spec, error) {
	s := &initramfs.Spec{Init: o.init, GoVersion: o.goVersion}
	for _, f := range o.files {
		parts := strings.Split(f, ":")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
			return nil, usagef("--file %q: want HOST_PATH:ARCHIVE_PATH[:OCTAL_MODE]", f)
		}
		file := initramfs.File{Source: parts[0], Path: parts[1]}
		if len(parts) == 3 {
			m, err := strconv.ParseUint(parts[2], 8, 32)
			if err != nil || m > 0o7777 {
				return nil, usagef("--file %q: mode %q, want octal permission bits such as 0755", f, parts[2])
			}
			file.Mode = uint32(m)
		}
		s.Files = append(s.Files, file)
	}
	return s, nil
}

// goCacheEnv is the part of the caller's environment `go build` needs to
// find itself and its caches; none of it changes the output.
func goCacheEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "GOCACHE", "GOMODCACHE", "GOPATH", "GOROOT", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

type buildInitramfsOptions struct {
	files initramfsOptions
	out   outputOptions
	path  string
	check bool
}

func newBuildInitramfsCmd(env *buildEnv) *cobra.Command {
	o := &buildInitramfsOptions{out: outputOptions{allowed: []string{"text", "json"}}}
	cmd := &cobra.Command{
		Use:   "initramfs",
		Short: "Build a deterministic gzip cpio initramfs holding a Go init program and files",
		Long: `Build an initramfs bit for bit: the Go main package named by --init is built
with -trimpath, -buildvcs=false, an empty build id and CGO_ENABLED=0 and goes
in as /init; --file adds files. Records are written with u-root's pkg/cpio
(newc), sorted by path with their parent directories, normalised (zero
mtime, uid, gid), with modes from the flags rather than the host; the gzip
stream has no name and no mtime. /dev/console, /dev, /proc, /sys and /tmp
are always there.

With --check it builds twice and fails unless the bytes are the same.`,
		Example: `  measure build initramfs
  measure build initramfs --init ./cmd/measure-init --out out/initramfs.cpio.gz
  measure build initramfs --init ./cmd/init --file ./etc/motd:/etc/motd:0644
  measure build initramfs --check --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd, env)
		},
	}
	o.files.AddFlags(cmd.Flags())
	o.out.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&o.path, "out", "out/initramfs.cpio.gz", "output file")
	cmd.Flags().BoolVar(&o.check, "check", false, "build twice and compare the bytes")
	return cmd
}

func (o *buildInitramfsOptions) run(cmd *cobra.Command, env *buildEnv) error {
	if err := o.out.validate(); err != nil {
		return err
	}
	spec, err := o.files.spec()
	if err != nil {
		return err
	}
	b := &initramfs.Builder{Runner: env.runner, CacheEnv: goCacheEnv(), Progress: progressWriter(cmd.ErrOrStderr())}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	res, err := b.Build(ctx, spec, o.path)
	if err != nil {
		return err
	}
	results := []*initramfs.Result{res}
	if o.check {
		other := filepath.Join(filepath.Dir(o.path), "check-b-"+filepath.Base(o.path))
		b.WorkDir = "" // a fresh work directory
		res2, err := b.Build(ctx, spec, other)
		if err != nil {
			return fmt.Errorf("check build b: %w", err)
		}
		results = append(results, res2)
		if res2.Archive.SHA256 != res.Archive.SHA256 {
			err := fmt.Errorf("initramfs %q: %w: sha256 %s and %s (%s)", o.path, engine.ErrNotReproducible, res.Archive.SHA256, res2.Archive.SHA256, other)
			if o.out.format == "json" {
				ms := []engine.Mismatch{{Name: filepath.Base(o.path), Reason: "contents differ",
					A: engine.File{Name: filepath.Base(o.path), Path: res.Archive.Path, SHA256: res.Archive.SHA256, Size: res.Archive.Size},
					B: engine.File{Name: filepath.Base(o.path), Path: res2.Archive.Path, SHA256: res2.Archive.SHA256, Size: res2.Archive.Size}}}
				if perr := writeJSON(cmd.OutOrStdout(), checkJSON(initramfsReports(results), ms)); perr != nil {
					return perr
				}
			}
			return err
		}
		if err := os.Remove(other); err != nil {
			return err
		}
		res2.Archive.Path = "" // removed: the same bytes as res's
	}
	return printInitramfs(cmd.OutOrStdout(), o.out.format, o.check, results)
}

// initramfsReport is one build in --output json.
type initramfsReport struct {
	Archive    initramfs.Artifact   `json:"archive"`
	Init       initramfs.Artifact   `json:"init"`
	GoVersion  string               `json:"go_version"`
	GoSettings map[string]string    `json:"go_settings,omitempty"`
	Inputs     []initramfs.Artifact `json:"inputs,omitempty"`
	Entries    []string             `json:"entries,omitempty"`
}

func initramfsReports(results []*initramfs.Result) []initramfsReport {
	out := make([]initramfsReport, len(results))
	for i, r := range results {
		out[i] = initramfsReport{Archive: r.Archive, Init: r.Init, GoVersion: r.GoVersion, GoSettings: r.GoSettings, Inputs: r.Inputs, Entries: r.Entries}
	}
	return out
}

func printInitramfs(w io.Writer, format string, check bool, results []*initramfs.Result) error {
	if format == "json" {
		return writeJSON(w, buildsOf(check, initramfsReports(results), nil))
	}
	res := results[0]
	if check {
		fmt.Fprintf(w, "initramfs: reproducible (two builds)\n")
	}
	fmt.Fprintf(w, "init %s  %s (%s)\n", res.Init.SHA256, res.Init.Name, res.GoVersion)
	fmt.Fprintf(w, "%s  %s\n", res.Archive.SHA256, res.Archive.Path)
	return nil
}
