package firmware

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/measure-cc/measure/builders/sandbox"
)

// CheckVariations are the outside conditions of Check's two builds: besides
// these, the builds differ in work directory (path on the host), output
// directory and wall-clock time.
var CheckVariations = [2]sandbox.Variation{
	{Hostname: "measure-check-a", Umask: "022", Env: []string{"TZ=UTC", "LANG=C.UTF-8"}},
	{Hostname: "measure-check-b-other", Umask: "077", Env: []string{"TZ=Pacific/Kiritimati", "LANG=fr_FR.UTF-8", "SOURCE_DATE_EPOCH=1"}},
}

// ErrNotReproducible reports two builds of one recipe whose outputs differ.
var ErrNotReproducible = errors.New("two builds differ")

// Mismatch names an output that differs between Check's builds.
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

// Check builds r twice, into outDir/a and outDir/b, with the conditions of
// CheckVariations, and compares every output byte for byte. Differing
// outputs are an error wrapping ErrNotReproducible; the result is returned
// with it so that the caller can show what differs.
func (b *Builder) Check(ctx context.Context, r *Recipe, outDir string) (*CheckResult, error) {
	var res CheckResult
	for i, name := range []string{"a", "b"} {
		b.progressf("check: build %s of 2", name)
		out, err := b.Build(ctx, r, Options{
			OutDir:   filepath.Join(outDir, name),
			Vary:     CheckVariations[i],
			WorkName: fmt.Sprintf("check-%s-%s%s", r.Name, name, strings.Repeat("-x", i*3)),
		})
		if err != nil {
			return nil, fmt.Errorf("check build %s: %w", name, err)
		}
		if i == 0 {
			res.A = out
		} else {
			res.B = out
		}
	}
	for i, fa := range res.A.Files {
		fb := res.B.Files[i]
		if fa.SHA256 == fb.SHA256 {
			continue
		}
		m := Mismatch{Name: fa.Name, A: fa, B: fb}
		m.Reason = firstDifference(fa.Path, fb.Path)
		res.Mismatches = append(res.Mismatches, m)
	}
	if len(res.Mismatches) > 0 {
		var names []string
		for _, m := range res.Mismatches {
			names = append(names, fmt.Sprintf("%s (%s)", m.Name, m.Reason))
		}
		return &res, fmt.Errorf("recipe %q: %w: %s", r.Name, ErrNotReproducible, strings.Join(names, ", "))
	}
	return &res, nil
}

// firstDifference describes where two files first differ.
func firstDifference(a, b string) string {
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
	n := 0
	first := -1
	for i := range da {
		if da[i] != db[i] {
			n++
			if first < 0 {
				first = i
			}
		}
	}
	if first < 0 && !bytes.Equal(da, db) {
		return "contents differ"
	}
	return fmt.Sprintf("%d bytes differ, the first at %#x", n, first)
}
