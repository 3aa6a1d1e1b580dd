package main

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/measure-cc/measure/ovmf"
)

func newOVMFCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ovmf",
		Short: "Inspect firmware images",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("ovmf needs a subcommand: inspect")
		},
	}
	cmd.AddCommand(newOVMFInspectCmd())
	return cmd
}

type inspectOptions struct {
	out outputOptions
}

func newOVMFInspectCmd() *cobra.Command {
	o := &inspectOptions{out: outputOptions{allowed: []string{"text", "json"}}}
	cmd := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Show what a firmware image declares for SEV, SEV-ES, SEV-SNP and TDX",
		Example: `  measure ovmf inspect OVMF.fd
  measure ovmf inspect OVMF.fd --output json | jq .supports`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.out.validate(); err != nil {
				return err
			}
			fw, err := loadFirmware(args[0])
			if err != nil {
				return err
			}
			rep := inspect(fw)
			if o.out.format == "json" {
				return writeJSON(cmd.OutOrStdout(), rep)
			}
			return rep.writeText(cmd.OutOrStdout())
		},
	}
	o.out.AddFlags(cmd.Flags())
	return cmd
}

// inspection is what `ovmf inspect` reports.
type inspection struct {
	File           string            `json:"file"`
	Size           int               `json:"size"`
	GPA            string            `json:"gpa"`
	SHA256         string            `json:"sha256"`
	SHA384         string            `json:"sha384"`
	FooterTable    []inspectEntry    `json:"footer_table"`
	SEVESResetEIP  string            `json:"sev_es_reset_eip,omitempty"`
	SEVHashTable   *inspectHashTable `json:"sev_hash_table,omitempty"`
	SEVMetadata    []inspectSection  `json:"sev_metadata,omitempty"`
	SEVMetadataErr string            `json:"sev_metadata_error,omitempty"`
	TDXMetadata    bool              `json:"tdx_metadata"`
	Supports       []string          `json:"supports"`
}

type inspectEntry struct {
	Name   string    `json:"name,omitempty"`
	GUID   ovmf.GUID `json:"guid"`
	Offset string    `json:"offset"`
	Data   string    `json:"data"`
}

type inspectSection struct {
	Type ovmf.SectionType `json:"type"`
	GPA  string           `json:"gpa"`
	Size uint32           `json:"size"`
}

// inspectHashTable is the SEV hash table's place: an address and a size,
// as docs/output.md writes them.
type inspectHashTable struct {
	GPA  string `json:"gpa"`
	Size uint32 `json:"size"`
}

func inspect(fw *loadedFirmware) *inspection {
	img := fw.img
	s256 := sha256.Sum256(img.Data())
	s384 := sha512.Sum384(img.Data())
	rep := &inspection{
		File:        fw.path,
		Size:        img.Size(),
		GPA:         fmt.Sprintf("%#x", img.GPA()),
		SHA256:      hex.EncodeToString(s256[:]),
		SHA384:      hex.EncodeToString(s384[:]),
		FooterTable: []inspectEntry{},
		TDXMetadata: img.HasTDXMetadata(),
		Supports:    []string{"sev"},
	}
	for _, e := range img.Entries() {
		rep.FooterTable = append(rep.FooterTable, inspectEntry{
			Name: ovmf.GUIDName(e.GUID), GUID: e.GUID,
			Offset: fmt.Sprintf("%#x", e.Offset), Data: hex.EncodeToString(e.Data),
		})
	}
	eip, hasEIP := img.SEVESResetEIP()
	if hasEIP {
		rep.SEVESResetEIP = fmt.Sprintf("%#x", eip)
		rep.Supports = append(rep.Supports, "seves")
	}
	if ht := img.SEVHashTable(); ht != nil {
		rep.SEVHashTable = &inspectHashTable{GPA: fmt.Sprintf("%#x", ht.Base), Size: ht.Size}
	}
	if md := img.SEVMetadata(); md != nil {
		for _, s := range md.Sections {
			rep.SEVMetadata = append(rep.SEVMetadata, inspectSection{
				Type: s.Type, GPA: fmt.Sprintf("%#x", s.GPA), Size: s.Size,
			})
		}
		if err := md.Validate(); err != nil {
			rep.SEVMetadataErr = err.Error()
		} else if hasEIP {
			rep.Supports = append(rep.Supports, "snp")
			ht := img.SEVHashTable()
			if md.Has(ovmf.SectionSNPKernelHashes) && ht != nil && ht.Base != 0 {
				rep.Supports = append(rep.Supports, "snp-with-kernel")
			}
		}
	}
	if rep.TDXMetadata {
		rep.Supports = append(rep.Supports, "tdx")
	}
	return rep
}

func (r *inspection) writeText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "file\t%s\n", r.File)
	fmt.Fprintf(tw, "size\t%d (%#x)\n", r.Size, r.Size)
	fmt.Fprintf(tw, "gpa\t%s\n", r.GPA)
	fmt.Fprintf(tw, "sha256\t%s\n", r.SHA256)
	fmt.Fprintf(tw, "sha384\t%s\n", r.SHA384)
	fmt.Fprintf(tw, "supports\t%s\n", strings.Join(r.Supports, " "))
	if len(r.FooterTable) == 0 {
		fmt.Fprintf(tw, "footer table\tnone\n")
	} else {
		fmt.Fprintf(tw, "footer table\t%d entries\n", len(r.FooterTable))
		for _, e := range r.FooterTable {
			fmt.Fprintf(tw, "  %s\t%s at %s\t%s\n", dash(e.Name), e.GUID, e.Offset, e.Data)
		}
	}
	if r.SEVESResetEIP != "" {
		fmt.Fprintf(tw, "sev-es reset eip\t%s\n", r.SEVESResetEIP)
	}
	if r.SEVHashTable != nil {
		fmt.Fprintf(tw, "sev hash table\tbase %s size %#x\n", r.SEVHashTable.GPA, r.SEVHashTable.Size)
	}
	if r.SEVMetadata != nil {
		fmt.Fprintf(tw, "sev metadata\t%d sections\n", len(r.SEVMetadata))
		for _, s := range r.SEVMetadata {
			fmt.Fprintf(tw, "  %s\tgpa %s size %#x\n", s.Type, s.GPA, s.Size)
		}
	}
	if r.SEVMetadataErr != "" {
		fmt.Fprintf(tw, "sev metadata error\t%s\n", r.SEVMetadataErr)
	}
	fmt.Fprintf(tw, "tdx metadata\t%v\n", r.TDXMetadata)
	return tw.Flush()
}
