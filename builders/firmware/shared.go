package firmware

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/measure-cc/measure/builders/toolchain"
)

// The pieces below are shared by every builder that runs a sandboxed step
// (firmware, kernel) and compares two builds (their --check, and the guest's).

// LogWriter writes a build log, serialising writes and remembering the last
// complete line for progress reports and errors.
type LogWriter struct {
	mu        sync.Mutex
	w         io.Writer
	last, cur []byte
}

// NewLogWriter returns a LogWriter writing to w.
func NewLogWriter(w io.Writer) *LogWriter { return &LogWriter{w: w} }

func (l *LogWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range p {
		if c == '\n' || c == '\r' {
			if len(l.cur) > 0 {
				l.last = append(l.last[:0], l.cur...)
			}
			l.cur = l.cur[:0]
		} else if len(l.cur) < 200 {
			l.cur = append(l.cur, c)
		}
	}
	return l.w.Write(p)
}

// LastLine returns the last complete line written, trimmed.
func (l *LogWriter) LastLine() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(bytes.TrimSpace(l.last))
}

// Heartbeat prints to progress, every 30 s, the time since t0 and the log's
// last line; stop ends it. With no progress writer it does nothing.
func Heartbeat(progress io.Writer, now func() time.Time, t0 time.Time, log *LogWriter) (stop func()) {
	if progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintf(progress, "  %s: %s\n", now().Sub(t0).Round(time.Second), log.LastLine())
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// CopyOut copies a build output to dst and returns it with its sha256.
func CopyOut(src, dst string) (File, error) {
	in, err := os.Open(src)
	if err != nil {
		return File{}, err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return File{}, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return File{}, err
	}
	return File{Path: dst, SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

// Compare pairs two builds' files by position and describes those whose
// names or digests differ.
func Compare(a, b []File) []Mismatch {
	var ms []Mismatch
	for i, fa := range a {
		if i >= len(b) {
			ms = append(ms, Mismatch{Name: fa.Name, A: fa, Reason: "missing from the second build"})
			continue
		}
		fb := b[i]
		if fa.SHA256 == fb.SHA256 && fa.Name == fb.Name {
			continue
		}
		ms = append(ms, Mismatch{Name: fa.Name, A: fa, B: fb, Reason: FirstDifference(fa.Path, fb.Path)})
	}
	for _, fb := range b[min(len(a), len(b)):] {
		ms = append(ms, Mismatch{Name: fb.Name, B: fb, Reason: "missing from the first build"})
	}
	return ms
}

// FirstDifference describes where two files first differ.
func FirstDifference(a, b string) string {
	da, err := os.ReadFile(a)
	if err != nil {
		return err.Error()
	}
	db, err := os.ReadFile(b)
	if err != nil {
		return err.Error()
	}
	if len(da) != len(db) {
		return fmt.Sprintf("sizes %d and %d", len(da), len(db))
	}
	n, first := 0, -1
	for i := range da {
		if da[i] != db[i] {
			n++
			if first < 0 {
				first = i
			}
		}
	}
	if first < 0 {
		return "same bytes"
	}
	return fmt.Sprintf("%d bytes differ, the first at %#x", n, first)
}

// ToolchainDependencies describes a toolchain as SLSA resolved
// dependencies: the image by digest, then every package in it.
func ToolchainDependencies(tc *toolchain.Toolchain) []Artifact {
	out := []Artifact{{
		Name:   "toolchain",
		URI:    tc.Spec.Image,
		Digest: map[string]string{"sha256": trimAlg(tc.Digest)},
		Annotations: map[string]any{
			"suite": tc.Spec.Suite, "mirror": tc.Spec.Mirror, "variant": tc.Spec.Variant,
		},
	}}
	for _, p := range tc.Packages {
		a := Artifact{
			Name: p.Name,
			URI:  fmt.Sprintf("pkg:deb/debian/%s@%s?arch=%s", p.Name, p.Version, p.Arch),
		}
		if p.SHA256 != "" {
			a.Digest = map[string]string{"sha256": p.SHA256}
		}
		out = append(out, a)
	}
	return out
}
