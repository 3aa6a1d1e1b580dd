package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/ovmf/fv"
)

// errDiffer makes `measure diff` exit non-zero when the images differ, like
// diff(1).
var errDiffer = errors.New("the images differ")

type diffOptions struct {
	out outputOptions
}

func newDiffCmd() *cobra.Command {
	o := &diffOptions{out: outputOptions{allowed: []string{"text", "json"}}}
	cmd := &cobra.Command{
		Use:   "diff A B",
		Short: "Say which firmware volumes, FFS files and sections differ between two images",
		Long: `Compare two firmware images module by module: parse their firmware volumes
(opening the LZMA-compressed volumes OVMF nests), match FFS files by volume,
GUID and occurrence, and list those that changed, appeared or disappeared,
with their UI names and the section types that differ. Exits 0 when the
images are identical, 1 when they differ (as diff(1)), 3 when one cannot be
read; --output json prints the comparison either way.`,
		Example: `  measure diff out/OVMF.fd /usr/share/ovmf/OVMF.fd
  measure diff out/a/OVMF.fd out/b/OVMF.fd --output json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.out.validate(); err != nil {
				return err
			}
			rep, err := compareFiles(args[0], args[1])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if o.out.format == "json" {
				if err := writeDiffJSON(w, args, rep); err != nil {
					return err
				}
			} else {
				writeDiffText(w, args[0], args[1], rep)
			}
			if !rep.Identical {
				return errDiffer
			}
			return nil
		},
	}
	o.out.AddFlags(cmd.Flags())
	return cmd
}

func compareFiles(a, b string) (*fv.Report, error) {
	da, err := readFileLimit(a, ovmf.MaxImageSize)
	if err != nil {
		return nil, err
	}
	db, err := readFileLimit(b, ovmf.MaxImageSize)
	if err != nil {
		return nil, err
	}
	rep, err := fv.Compare(da, db)
	if err != nil {
		return nil, fmt.Errorf("comparing %q and %q: %w", a, b, err)
	}
	return rep, nil
}

func writeDiffText(w io.Writer, a, b string, rep *fv.Report) {
	if rep.Identical {
		fmt.Fprintf(w, "%s and %s are identical (%d bytes)\n", a, b, rep.SizeA)
		return
	}
	fmt.Fprintf(w, "%s (%d bytes) and %s (%d bytes): %d bytes differ in %d ranges\n",
		a, rep.SizeA, b, rep.SizeB, rep.DiffBytes, len(rep.Ranges))
	for _, c := range rep.Changes {
		fmt.Fprintf(w, "  %s\n", c)
	}
	if rep.Note != "" {
		fmt.Fprintf(w, "  %s\n", rep.Note)
	} else if len(rep.Changes) == 0 {
		fmt.Fprintf(w, "  no FFS file differs: the difference is in volume headers, padding or free space\n")
	}
}

// diffJSON is diff --output json (docs/output.md).
type diffJSON struct {
	A         string           `json:"a"`
	B         string           `json:"b"`
	SizeA     int              `json:"size_a"`
	SizeB     int              `json:"size_b"`
	Identical bool             `json:"identical"`
	DiffBytes int              `json:"diff_bytes"`
	Ranges    []rangeJSON      `json:"ranges,omitempty"`
	Changes   []diffModuleJSON `json:"changes,omitempty"`
	Note      string           `json:"note,omitempty"`
}

// rangeJSON is a run of differing bytes: where it starts and how long.
type rangeJSON struct {
	Offset string `json:"offset"`
	Size   int    `json:"size"`
}

type diffModuleJSON struct {
	Kind     string   `json:"kind"`
	Name     string   `json:"name"`
	GUID     string   `json:"guid"`
	Type     string   `json:"type"`
	Path     string   `json:"path"`
	Sections []string `json:"sections,omitempty"`
}

func writeDiffJSON(w io.Writer, args []string, rep *fv.Report) error {
	v := diffJSON{A: args[0], B: args[1], SizeA: rep.SizeA, SizeB: rep.SizeB, Identical: rep.Identical, DiffBytes: rep.DiffBytes, Note: rep.Note}
	for _, r := range rep.Ranges {
		v.Ranges = append(v.Ranges, rangeJSON{Offset: fmt.Sprintf("%#x", r[0]), Size: r[1] - r[0]})
	}
	for _, c := range rep.Changes {
		m := c.A
		if m == nil {
			m = c.B
		}
		v.Changes = append(v.Changes, diffModuleJSON{
			Kind: c.Kind, Name: m.Name(), GUID: m.GUID.String(), Type: m.Type.String(), Path: m.Path, Sections: c.Sections,
		})
	}
	return writeJSON(w, v)
}

// printFVDiff writes the module diff of two files, for build --check.
func printFVDiff(w io.Writer, a, b string) error {
	rep, err := compareFiles(a, b)
	if err != nil {
		return err
	}
	for _, c := range rep.Changes {
		fmt.Fprintf(w, "  %s\n", c)
	}
	return nil
}
