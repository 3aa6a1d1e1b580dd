package firmware

import (
	"context"
	"errors"
	"fmt"
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
	res.Mismatches = Compare(res.A.Files, res.B.Files)
	if len(res.Mismatches) > 0 {
		var names []string
		for _, m := range res.Mismatches {
			names = append(names, fmt.Sprintf("%s (%s)", m.Name, m.Reason))
		}
		return &res, fmt.Errorf("recipe %q: %w: %s", r.Name, ErrNotReproducible, strings.Join(names, ", "))
	}
	return &res, nil
}
