package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/measure-cc/measure/builders/fvdiff"
	"github.com/measure-cc/measure/ovmf"
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
with their UI names and the section types that differ. Exits 1 when the
images differ.`,
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

func compareFiles(a, b string) (*fvdiff.Report, error) {
	da, err := readFileLimit(a, ovmf.MaxImageSize)
	if err != nil {
		return nil, err
	}
	db, err := readFileLimit(b, ovmf.MaxImageSize)
	if err != nil {
		return nil, err
	}
	rep, err := fvdiff.Compare(da, db)
	if err != nil {
		return nil, fmt.Errorf("comparing %q and %q: %w", a, b, err)
	}
	return rep, nil
}

func writeDiffText(w io.Writer, a, b string, rep *fvdiff.Report) {
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

type diffModuleJSON struct {
	Kind     string   `json:"kind"`
	Name     string   `json:"name"`
	GUID     string   `json:"guid"`
	Type     string   `json:"type"`
	Path     string   `json:"path"`
	Sections []string `json:"sections,omitempty"`
}

func writeDiffJSON(w io.Writer, args []string, rep *fvdiff.Report) error {
	v := struct {
		A         string           `json:"a"`
		B         string           `json:"b"`
		Identical bool             `json:"identical"`
		DiffBytes int              `json:"diffBytes"`
		Ranges    [][2]int         `json:"ranges,omitempty"`
		Changes   []diffModuleJSON `json:"changes"`
	}{A: args[0], B: args[1], Identical: rep.Identical, DiffBytes: rep.DiffBytes, Ranges: rep.Ranges, Changes: []diffModuleJSON{}}
	for _, c := range rep.Changes {
		m := c.A
		if m == nil {
			m = c.B
		}
		v.Changes = append(v.Changes, diffModuleJSON{
			Kind: c.Kind, Name: m.Name(), GUID: m.GUID.String(), Type: m.Type.String(), Path: m.Path, Sections: c.Sections,
		})
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
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
