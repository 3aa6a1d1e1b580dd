package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/measure-cc/measure/measure/snp"
	"github.com/measure-cc/measure/ovmf/igvm"
)

func newIGVMCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "igvm",
		Short: "Inspect IGVM files (COCONUT-SVSM, OpenHCL, QEMU igvm-cfg) and compute their SEV-SNP launch digest",
		Example: `  measure igvm inspect coconut-qemu.igvm
  measure igvm measure coconut-qemu.igvm`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("igvm needs a subcommand: inspect, measure")
		},
	}
	cmd.AddCommand(newIGVMInspectCmd(), newIGVMMeasureCmd())
	return cmd
}

func newIGVMInspectCmd() *cobra.Command {
	o := &inspectOptions{out: outputOptions{allowed: []string{"text", "json"}}}
	cmd := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Show an IGVM file's header, platforms and a summary of its directives",
		Long: `inspect parses an IGVM file (format of microsoft/igvm 0.4.0), checks its
structure and checksum, and summarises it: the fixed header, the supported
platforms, the initialization headers, and per compatibility mask the
directives by type, the GPA ranges of page data, the bytes of page data in
the file and the VP contexts. It does not compute a launch digest.`,
		Example: `  measure igvm inspect coconut-qemu.igvm
  measure igvm inspect coconut-qemu.igvm --output json | jq '.directives[] | select(.platform == "sev_snp")'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.out.validate(); err != nil {
				return err
			}
			f, err := loadIGVM(args[0])
			if err != nil {
				return err
			}
			rep := inspectIGVM(args[0], f)
			if o.out.format == "json" {
				return writeJSON(cmd.OutOrStdout(), rep)
			}
			return rep.writeText(cmd.OutOrStdout())
		},
	}
	o.out.AddFlags(cmd.Flags())
	return cmd
}

// loadIGVM reads and parses the IGVM file at path, at most
// igvm.MaxFileSize bytes.
func loadIGVM(path string) (*igvm.File, error) {
	b, err := readFileLimit(path, igvm.MaxFileSize)
	if err != nil {
		return nil, err
	}
	f, err := igvm.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("IGVM file %q: %w", path, err)
	}
	return f, nil
}

// igvmMeasureOptions are igvm measure's flags.
type igvmMeasureOptions struct {
	out           outputOptions
	nativeZero    bool
	ignoreIDBlock bool
}

func newIGVMMeasureCmd() *cobra.Command {
	o := &igvmMeasureOptions{out: outputOptions{allowed: []string{"hex", "json"}}}
	cmd := &cobra.Command{
		Use:   "measure FILE",
		Short: "Compute the SEV-SNP launch digest of an IGVM file, as COCONUT-SVSM's igvmmeasure does",
		Long: `measure computes the SEV-SNP launch digest (the attestation report's
MEASUREMENT) of the directives of an IGVM file's first SEV-SNP platform, as
igvmmeasure (coconut-svsm tools/igvmmeasure) computes it and QEMU/KVM
launches the file: page data as NORMAL, UNMEASURED, SECRETS or CPUID pages,
one UNMEASURED page per parameter insert, and each SEV-SNP VP context as a
VMSA page at its GPA, in file order (docs/svsm.md, "IGVM").

Pages without data are NORMAL pages of zeros, as QEMU adds them;
--native-zero measures them as ZERO pages (igvmmeasure --native-zero). When
the file carries an SNP ID block for that platform, its launch digest must
equal the one computed (exit 1 otherwise) unless --ignore-id-block.`,
		Example: `  measure igvm measure coconut-qemu.igvm
  measure igvm measure coconut-qemu.igvm --native-zero --output json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.out.validate(); err != nil {
				return err
			}
			f, err := loadIGVM(args[0])
			if err != nil {
				return err
			}
			d, err := snp.MeasureIGVM(f, snp.IGVMOptions{NativeZero: o.nativeZero})
			if err != nil {
				return fmt.Errorf("IGVM file %q: %w", args[0], err)
			}
			var mismatch error
			if d.IDBlockLD != nil && *d.IDBlockLD != d.Digest && !o.ignoreIDBlock {
				mismatch = fmt.Errorf("IGVM file %q: %w: its SNP ID block promises launch digest %x, the directives measure to %x (--ignore-id-block prints the digest anyway)", args[0], errIDBlockLD, d.IDBlockLD[:], d.Digest[:])
			}
			if o.out.format != "json" {
				if mismatch != nil {
					return mismatch
				}
				_, err := fmt.Fprintf(cmd.OutOrStdout(), "%x\n", d.Digest[:])
				return err
			}
			rec := igvmMeasurement{
				Platform: "sev-snp", File: args[0], Mask: d.Mask, NativeZero: o.nativeZero,
				Measurement: fmt.Sprintf("%x", d.Digest[:]), Pages: map[string]int{},
			}
			for t, n := range d.Pages {
				rec.Pages[pageTypeName(t)] = n
			}
			if d.IDBlockLD != nil {
				rec.IDBlockLD = fmt.Sprintf("%x", d.IDBlockLD[:])
				matches := *d.IDBlockLD == d.Digest
				rec.IDBlockMatches = &matches
			}
			if err := writeJSON(cmd.OutOrStdout(), rec); err != nil {
				return err
			}
			return mismatch
		},
	}
	o.out.AddFlags(cmd.Flags())
	cmd.Flags().BoolVar(&o.nativeZero, "native-zero", false, "measure pages without data as ZERO pages (igvmmeasure --native-zero), not as NORMAL pages of zeros (QEMU)")
	cmd.Flags().BoolVar(&o.ignoreIDBlock, "ignore-id-block", false, "print the digest even when the file's SNP ID block promises another")
	return cmd
}

// errIDBlockLD is an IGVM file whose ID block names another launch digest
// than its directives measure to: a negative answer.
var errIDBlockLD = errors.New("ID block launch digest differs")

// igvmMeasurement is igvm measure's JSON record.
type igvmMeasurement struct {
	Platform   string         `json:"platform"`
	File       string         `json:"file"`
	Mask       uint32         `json:"compatibility_mask"`
	NativeZero bool           `json:"native_zero"`
	Pages      map[string]int `json:"pages"`
	IDBlockLD  string         `json:"id_block_ld,omitempty"`
	// IDBlockMatches says whether the ID block's digest is the one
	// computed; without an ID block it is left out.
	IDBlockMatches *bool  `json:"id_block_matches,omitempty"`
	Measurement    string `json:"measurement"`
}

func pageTypeName(t snp.PageType) string {
	switch t {
	case snp.PageNormal:
		return "normal"
	case snp.PageVMSA:
		return "vmsa"
	case snp.PageZero:
		return "zero"
	case snp.PageUnmeasured:
		return "unmeasured"
	case snp.PageSecrets:
		return "secrets"
	case snp.PageCPUID:
		return "cpuid"
	}
	return fmt.Sprintf("type-%d", t)
}

// igvmInspection is what `igvm inspect` reports (docs/output.md: snake
// case, addresses as "0x" strings, sizes as integers).
type igvmInspection struct {
	File                 string              `json:"file"`
	Size                 int                 `json:"size"`
	FormatVersion        uint32              `json:"format_version"`
	Architecture         string              `json:"architecture,omitempty"`
	VariableHeaderOffset string              `json:"variable_header_offset"`
	VariableHeaderSize   uint32              `json:"variable_header_size"`
	Checksum             string              `json:"checksum"`
	Platforms            []igvmPlatform      `json:"platforms"`
	Initialization       []igvmInit          `json:"initialization"`
	Directives           []igvmMaskSummary   `json:"directives"`
	Unmasked             map[string]int      `json:"unmasked_directives"`
	Skipped              []igvmSkippedHeader `json:"skipped_optional_headers"`
}

type igvmPlatform struct {
	CompatibilityMask string `json:"compatibility_mask"`
	Platform          string `json:"platform"`
	PlatformVersion   uint16 `json:"platform_version"`
	HighestVTL        uint8  `json:"highest_vtl"`
	SharedGPABoundary string `json:"shared_gpa_boundary"`
}

type igvmInit struct {
	Type              string `json:"type"`
	Offset            string `json:"offset"`
	CompatibilityMask string `json:"compatibility_mask"`
	Policy            string `json:"policy,omitempty"`
}

type igvmRange struct {
	Start string `json:"start"`
	End   string `json:"end"` // exclusive
}

type igvmMaskSummary struct {
	CompatibilityMask string         `json:"compatibility_mask"`
	Platform          string         `json:"platform"`
	Counts            map[string]int `json:"counts"`
	Pages             int            `json:"pages"`
	PageDataBytes     uint64         `json:"page_data_bytes"`
	GPARanges         []igvmRange    `json:"gpa_ranges"`
	VPContexts        int            `json:"vp_contexts"`
}

type igvmSkippedHeader struct {
	Type   string `json:"type"`
	Offset string `json:"offset"`
	Length uint32 `json:"length"`
}

func hex0x(v uint64) string { return fmt.Sprintf("%#x", v) }

// pageSpan is one page of page data: its GPA and size.
type pageSpan struct{ gpa, size uint64 }

func inspectIGVM(path string, f *igvm.File) *igvmInspection {
	h := f.Header
	rep := &igvmInspection{
		File: path, Size: int(h.TotalFileSize), FormatVersion: h.FormatVersion,
		VariableHeaderOffset: hex0x(uint64(h.VariableHeaderOffset)), VariableHeaderSize: h.VariableHeaderSize,
		Checksum:       fmt.Sprintf("%#08x", h.Checksum),
		Platforms:      []igvmPlatform{},
		Initialization: []igvmInit{},
		Directives:     []igvmMaskSummary{},
		Unmasked:       map[string]int{},
		Skipped:        []igvmSkippedHeader{},
	}
	if h.FormatVersion == igvm.FormatVersion2 {
		rep.Architecture = map[uint32]string{igvm.ArchX64: "x64", igvm.ArchAArch64: "aarch64"}[h.Architecture]
	}
	type acc struct {
		sum   *igvmMaskSummary
		pages []pageSpan
	}
	var masks []uint32
	byMask := map[uint32]*acc{}
	for _, ph := range f.Platforms {
		p := ph.Body.(*igvm.SupportedPlatform)
		rep.Platforms = append(rep.Platforms, igvmPlatform{
			CompatibilityMask: hex0x(uint64(p.CompatibilityMask)), Platform: p.PlatformType.String(),
			PlatformVersion: p.PlatformVersion, HighestVTL: p.HighestVTL, SharedGPABoundary: hex0x(p.SharedGPABoundary),
		})
		masks = append(masks, p.CompatibilityMask)
		byMask[p.CompatibilityMask] = &acc{sum: &igvmMaskSummary{
			CompatibilityMask: hex0x(uint64(p.CompatibilityMask)), Platform: p.PlatformType.String(),
			Counts: map[string]int{}, GPARanges: []igvmRange{},
		}}
	}
	for _, ih := range f.Initialization {
		mask, _ := ih.CompatibilityMask()
		in := igvmInit{Type: ih.Type.String(), Offset: hex0x(uint64(ih.Offset)), CompatibilityMask: hex0x(uint64(mask))}
		if gp, ok := ih.Body.(*igvm.GuestPolicy); ok {
			in.Policy = hex0x(gp.Policy)
		}
		rep.Initialization = append(rep.Initialization, in)
	}
	for _, d := range f.Directives {
		mask, ok := d.CompatibilityMask()
		if !ok {
			rep.Unmasked[d.Type.String()]++
			continue
		}
		for _, m := range masks {
			if mask&m == 0 {
				continue
			}
			a := byMask[m]
			a.sum.Counts[d.Type.String()]++
			switch b := d.Body.(type) {
			case *igvm.PageData:
				size := uint64(igvm.PageSize)
				if b.Flags&igvm.PageFlag2MB != 0 {
					size = 2 << 20
				}
				a.sum.Pages++
				a.pages = append(a.pages, pageSpan{b.GPA, size})
				if b.FileOffset != 0 {
					a.sum.PageDataBytes += igvm.PageSize // igvm 0.4.0 reads 4 KiB per page
				}
			case *igvm.VPContext:
				a.sum.VPContexts++
			}
		}
	}
	for _, m := range masks {
		a := byMask[m]
		a.sum.GPARanges = mergeRanges(a.pages)
		rep.Directives = append(rep.Directives, *a.sum)
	}
	for _, s := range f.Skipped {
		rep.Skipped = append(rep.Skipped, igvmSkippedHeader{Type: s.Type.String(), Offset: hex0x(uint64(s.Offset)), Length: s.Length})
	}
	return rep
}

// mergeRanges sorts pages by GPA and joins those that touch or overlap.
func mergeRanges(pages []pageSpan) []igvmRange {
	sort.Slice(pages, func(i, j int) bool { return pages[i].gpa < pages[j].gpa })
	out := []igvmRange{}
	var start, end uint64
	for i, p := range pages {
		pend := p.gpa + p.size
		if pend < p.gpa { // wraps past 2^64
			pend = ^uint64(0)
		}
		if i > 0 && p.gpa <= end {
			end = max(end, pend)
			continue
		}
		if i > 0 {
			out = append(out, igvmRange{hex0x(start), hex0x(end)})
		}
		start, end = p.gpa, pend
	}
	if len(pages) > 0 {
		out = append(out, igvmRange{hex0x(start), hex0x(end)})
	}
	return out
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (r *igvmInspection) writeText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "file:            %s\n", r.File)
	fmt.Fprintf(&b, "size:            %d\n", r.Size)
	fmt.Fprintf(&b, "format version:  %d\n", r.FormatVersion)
	if r.Architecture != "" {
		fmt.Fprintf(&b, "architecture:    %s\n", r.Architecture)
	}
	fmt.Fprintf(&b, "variable headers: %s, %d bytes\n", r.VariableHeaderOffset, r.VariableHeaderSize)
	fmt.Fprintf(&b, "checksum:        %s (CRC-32, verified)\n", r.Checksum)
	b.WriteString("platforms:\n")
	for _, p := range r.Platforms {
		fmt.Fprintf(&b, "  mask %s  %s (version %d, highest VTL %d, shared GPA boundary %s)\n", p.CompatibilityMask, p.Platform, p.PlatformVersion, p.HighestVTL, p.SharedGPABoundary)
	}
	if len(r.Initialization) > 0 {
		b.WriteString("initialization:\n")
		for _, in := range r.Initialization {
			fmt.Fprintf(&b, "  %s  mask %s", in.Type, in.CompatibilityMask)
			if in.Policy != "" {
				fmt.Fprintf(&b, "  policy %s", in.Policy)
			}
			b.WriteString("\n")
		}
	}
	for _, d := range r.Directives {
		fmt.Fprintf(&b, "directives for mask %s (%s):\n", d.CompatibilityMask, d.Platform)
		for _, k := range sortedKeys(d.Counts) {
			fmt.Fprintf(&b, "  %-28s %d\n", k, d.Counts[k])
		}
		fmt.Fprintf(&b, "  pages %d, page data %d bytes, VP contexts %d\n", d.Pages, d.PageDataBytes, d.VPContexts)
		for _, g := range d.GPARanges {
			fmt.Fprintf(&b, "  GPA %s-%s\n", g.Start, g.End)
		}
	}
	if len(r.Unmasked) > 0 {
		b.WriteString("directives for every platform:\n")
		for _, k := range sortedKeys(r.Unmasked) {
			fmt.Fprintf(&b, "  %-28s %d\n", k, r.Unmasked[k])
		}
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(&b, "skipped optional header %s at %s (%d bytes)\n", s.Type, s.Offset, s.Length)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
