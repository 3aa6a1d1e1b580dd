// Package guesttest provides fakes for testing guest builds without
// building anything: a firmware builder that writes a synthetic AmdSevX64
// image, a kernel builder that writes a stand-in kernel, and a runner and
// build-information reader that play `go build` for the initramfs builder.
package guesttest

import (
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"os"
	"path/filepath"
	"sync"

	"github.com/measure-cc/measure/builders/engine"
	"github.com/measure-cc/measure/builders/firmware"
	"github.com/measure-cc/measure/builders/kernel"
	"github.com/measure-cc/measure/builders/run"
	"github.com/measure-cc/measure/builders/run/runtest"
	"github.com/measure-cc/measure/builders/toolchain"
	"github.com/measure-cc/measure/ovmf/ovmftest"
	"github.com/measure-cc/measure/provenance"
)

// Firmware plays a firmware build: the output called "OVMF.fd" is
// ovmftest.AmdSev(), every other output a few bytes.
type Firmware struct {
	// FlipSecond, when set, changes byte 0x100 of the image from the
	// second build on, as a build that is not reproducible would.
	FlipSecond bool

	mu    sync.Mutex
	calls []engine.Options
}

// Build implements guest.FirmwareBuilder.
func (f *Firmware) Build(_ context.Context, r *firmware.Recipe, o engine.Options) (*firmware.Result, error) {
	f.mu.Lock()
	f.calls = append(f.calls, o)
	n := len(f.calls)
	f.mu.Unlock()
	img := ovmftest.AmdSev().MustBuild()
	if f.FlipSecond && n >= 2 {
		img[0x100] ^= 1
	}
	res := &firmware.Result{Recipe: r, Result: &engine.Result{Toolchain: &toolchain.Toolchain{Digest: "sha256:" + hex.EncodeToString(make([]byte, 32))}}}
	for _, out := range r.Outputs {
		data := img
		if out.Name != "OVMF.fd" {
			data = []byte("not " + out.Name)
		}
		file, err := write(filepath.Join(o.OutDir, out.Name), data)
		if err != nil {
			return nil, err
		}
		file.Name = out.Name
		res.Files = append(res.Files, file)
	}
	res.Provenance = &provenance.Build{BuildType: firmware.BuildType, BuilderID: firmware.BuilderID,
		ExternalParameters: map[string]any{"recipe": r.Name}}
	return res, nil
}

// Calls returns the options of each build so far.
func (f *Firmware) Calls() []engine.Options {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]engine.Options(nil), f.calls...)
}

// Kernel plays a kernel build: each output holds "MZ kernel NAME".
type Kernel struct {
	mu    sync.Mutex
	calls []engine.Options
}

// Build implements guest.KernelBuilder.
func (k *Kernel) Build(_ context.Context, r *kernel.Recipe, o engine.Options) (*kernel.Result, error) {
	k.mu.Lock()
	k.calls = append(k.calls, o)
	k.mu.Unlock()
	res := &kernel.Result{Recipe: r, Result: &engine.Result{Toolchain: &toolchain.Toolchain{Digest: "sha256:" + hex.EncodeToString(make([]byte, 32))}}}
	for _, out := range r.Outputs {
		file, err := write(filepath.Join(o.OutDir, out.Name), []byte("MZ kernel "+out.Name))
		if err != nil {
			return nil, err
		}
		file.Name = out.Name
		res.Files = append(res.Files, file)
	}
	res.Provenance = &provenance.Build{BuildType: kernel.BuildType, BuilderID: firmware.BuilderID,
		ExternalParameters: map[string]any{"recipe": r.Name}}
	return res, nil
}

// Calls returns the options of each build so far.
func (k *Kernel) Calls() []engine.Options {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]engine.Options(nil), k.calls...)
}

// Go returns a runner that plays `go build ... -o OUT .` by writing a
// stand-in binary to OUT.
func Go() *runtest.Fake {
	return &runtest.Fake{Hook: func(c *run.Cmd) error {
		return os.WriteFile(c.Args[len(c.Args)-2], []byte("\x7fELF stand-in init"), 0o755)
	}}
}

// BuildInfo returns build information of goVersion, for
// initramfs.Builder.ReadBuildInfo.
func BuildInfo(goVersion string) func(string) (*buildinfo.BuildInfo, error) {
	return func(string) (*buildinfo.BuildInfo, error) {
		return &buildinfo.BuildInfo{GoVersion: goVersion}, nil
	}
}

func write(p string, data []byte) (engine.File, error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return engine.File{}, err
	}
	h := sha256.Sum256(data)
	return engine.File{Path: p, SHA256: hex.EncodeToString(h[:]), Size: int64(len(data))}, os.WriteFile(p, data, 0o644)
}
