package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/measure-cc/measure/builders/sandbox"
)

// CheckVariations are the outside conditions of Check's two builds: besides
// these, the builds differ in work tree (path on the host, and name length),
// output directory and wall-clock time.
var CheckVariations = [2]sandbox.Variation{
	{Umask: "022", Env: []string{"TZ=UTC", "LANG=C.UTF-8"}},
	{Umask: "077", Env: []string{"TZ=Pacific/Kiritimati", "LANG=fr_FR.UTF-8", "SOURCE_DATE_EPOCH=1"}},
}

// ErrNotReproducible reports two builds of one job whose outputs differ.
var ErrNotReproducible = errors.New("two builds differ")

// Mismatch names an output that differs between two builds.
type Mismatch struct {
	Name   string
	A, B   File
	Reason string
}

// CheckResult is the outcome of Check.
type CheckResult struct {
	A, B       *Result
	Mismatches []Mismatch
}

// Check builds j twice, into outDir/a and outDir/b, under CheckVariations,
// and compares every output byte for byte. Differing outputs are an error
// wrapping ErrNotReproducible; the result is returned with it so that the
// caller can show what differs.
func (e *Engine) Check(ctx context.Context, j *Job, outDir string) (*CheckResult, error) {
	var res CheckResult
	var err error
	res.A, res.B, err = Twice(func(name string, i int) (*Result, error) {
		e.Progress.Linef("check: build %s of 2 (%s)", name, j.Name)
		return e.Build(ctx, j, Options{
			OutDir:   filepath.Join(outDir, name),
			Vary:     CheckVariations[i],
			WorkName: fmt.Sprintf("check-%s-%s", strings.ReplaceAll(j.Name, " ", "-"), WorkSuffix(name, i)),
		})
	})
	if err != nil {
		return nil, err
	}
	res.Mismatches = Compare(res.A.Files, res.B.Files)
	if len(res.Mismatches) > 0 {
		var names []string
		for _, m := range res.Mismatches {
			names = append(names, fmt.Sprintf("%s (%s)", m.Name, m.Reason))
		}
		return &res, fmt.Errorf("build %s: %w: %s", j.Name, ErrNotReproducible, strings.Join(names, ", "))
	}
	return &res, nil
}

// Twice runs Check's two builds: build("a", 0), then build("b", 1); the
// index selects CheckVariations. Every checker (the engine's, the guest
// builder's) builds through it.
func Twice[T any](build func(name string, i int) (T, error)) (a, b T, err error) {
	if a, err = build("a", 0); err != nil {
		return a, b, fmt.Errorf("check build a: %w", err)
	}
	if b, err = build("b", 1); err != nil {
		return a, b, fmt.Errorf("check build b: %w", err)
	}
	return a, b, nil
}

// WorkSuffix names build i's work trees: the second's name is longer, so
// that the two builds differ in the length of their paths too.
func WorkSuffix(name string, i int) string {
	return name + strings.Repeat("-x", i*3)
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
