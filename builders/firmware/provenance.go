package firmware

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/measure-cc/measure/builders/toolchain"
	"github.com/measure-cc/measure/measure/snp"
	"github.com/measure-cc/measure/measure/tdx"
	"github.com/measure-cc/measure/ovmf"
)

// BuildType is the SLSA buildType of a firmware build.
const BuildType = "https://github.com/measure-cc/measure/builders/firmware/v1"

// BuilderID is the SLSA builder.id of `measure build`.
const BuilderID = "https://github.com/measure-cc/measure/cmd/measure/build"

// Artifact is an SLSA ResourceDescriptor: a dependency, subject or byproduct.
type Artifact struct {
	Name        string            `json:"name,omitempty"`
	URI         string            `json:"uri,omitempty"`
	Digest      map[string]string `json:"digest,omitempty"`
	Annotations map[string]any    `json:"annotations,omitempty"`
}

// ProvenanceInputs is everything an SLSA provenance v1 statement of the
// build says, as plain values, for an encoder (the provenance package) to
// turn into an in-toto statement.
type ProvenanceInputs struct {
	BuildType            string            `json:"buildType"`
	BuilderID            string            `json:"builderId"`
	BuilderVersion       map[string]string `json:"builderVersion,omitempty"`
	ExternalParameters   map[string]any    `json:"externalParameters"`
	InternalParameters   map[string]any    `json:"internalParameters"`
	ResolvedDependencies []Artifact        `json:"resolvedDependencies"`
	Byproducts           []Artifact        `json:"byproducts"`
	Subjects             []Artifact        `json:"subjects"`
	StartedOn            *time.Time        `json:"startedOn,omitempty"`
	FinishedOn           *time.Time        `json:"finishedOn,omitempty"`
}

// ProvenanceEncoder turns provenance inputs into a statement's bytes.
type ProvenanceEncoder interface {
	Encode(in *ProvenanceInputs) ([]byte, error)
}

// JSONInputs is the ProvenanceEncoder that writes the inputs themselves as
// indented JSON, for when no in-toto encoder is wired in.
type JSONInputs struct{}

// Encode implements ProvenanceEncoder.
func (JSONInputs) Encode(in *ProvenanceInputs) ([]byte, error) {
	return json.MarshalIndent(in, "", "  ")
}

func provenanceInputs(r *Recipe, tc *toolchain.Toolchain, res *Result) (*ProvenanceInputs, error) {
	in := &ProvenanceInputs{
		BuildType: BuildType,
		BuilderID: BuilderID,
		ExternalParameters: map[string]any{
			"recipe": r,
		},
		InternalParameters: map[string]any{
			"sandbox": map[string]any{
				"namespaces": []string{"mount", "pid", "net", "uts", "ipc"},
				"network":    false,
				"user":       "1000:1000",
				"hostname":   "measure-build",
				"umask":      "022",
				"env":        r.Env(),
			},
			"buildArgs": r.BuildArgs(0),
		},
		StartedOn:  &res.Started,
		FinishedOn: &res.Finished,
	}
	for _, s := range r.Sources {
		in.ResolvedDependencies = append(in.ResolvedDependencies, Artifact{
			Name: s.FileName(), URI: s.URL, Digest: map[string]string{"sha256": s.SHA256},
		})
	}
	if r.Patches.Series != "" {
		in.ResolvedDependencies = append(in.ResolvedDependencies, Artifact{
			Name:        r.Patches.Series,
			Annotations: map[string]any{"note": "patch series inside the source tarballs above; pinned by their digests"},
		})
	}
	for _, f := range r.Patches.Files {
		d, err := patchDigest(f)
		if err != nil {
			return nil, err
		}
		in.ResolvedDependencies = append(in.ResolvedDependencies, Artifact{
			Name: "patches/" + f, Digest: map[string]string{"sha256": d},
		})
	}
	in.ResolvedDependencies = append(in.ResolvedDependencies, ToolchainDependencies(tc)...)
	for _, f := range res.Files {
		in.Subjects = append(in.Subjects, Artifact{Name: f.Name, Digest: map[string]string{"sha256": f.SHA256}})
		bp, err := measurements(f)
		if err != nil {
			return nil, err
		}
		in.Byproducts = append(in.Byproducts, bp...)
	}
	return in, nil
}

func trimAlg(d string) string {
	if len(d) > 7 && d[:7] == "sha256:" {
		return d[7:]
	}
	return d
}

// measurements returns the reference measurements of a firmware file that
// ovmf.Parse accepts and that carries SEV or TDX metadata. A VARS file or any
// other output yields none.
func measurements(f File) ([]Artifact, error) {
	data, err := os.ReadFile(f.Path)
	if err != nil {
		return nil, err
	}
	img, err := ovmf.Parse(data)
	if err != nil {
		return nil, nil // not a whole firmware image (VARS, grub.efi): nothing to measure
	}
	var out []Artifact
	if img.SEVMetadata() != nil {
		d := snp.FirmwareDigest(img)
		out = append(out, Artifact{
			Name:   f.Name + ".snp-firmware-digest",
			Digest: map[string]string{"sha384": d.String()},
			Annotations: map[string]any{
				"description":  "SEV-SNP launch digest after the firmware pages (sev-snp-measure's OVMF hash); seed for snp --snp-ovmf-hash",
				"sevHashTable": img.SEVHashTable() != nil,
			},
		})
		epycV4, err := snp.LookupCPUType("EPYC-v4")
		if err != nil {
			return nil, err
		}
		m := snp.NewMeasurer(img, nil, nil)
		for _, n := range []int{1, 2, 4} {
			cfg := snp.Config{VCPUs: n, VMM: snp.VMMQEMU, GuestFeatures: 1, VCPUSig: epycV4.Signature()}
			ld, err := m.SNP(cfg)
			if err != nil {
				break // no reset block or metadata: the firmware digest stands alone
			}
			out = append(out, Artifact{
				Name:   fmt.Sprintf("%s.snp-measurement.qemu.epyc-v4.%dvcpu", f.Name, n),
				Digest: map[string]string{"sha384": ld.String()},
				Annotations: map[string]any{
					"vmm": "qemu", "vcpus": n, "vcpuType": "EPYC-v4", "guestFeatures": "0x1",
				},
			})
		}
	}
	if md, err := img.TDVFMetadata(); err == nil {
		for _, order := range []tdx.PageAddOrder{tdx.SinglePass, tdx.TwoPass} {
			d, err := tdx.MRTD(data, md, order, nil)
			if err != nil {
				return nil, fmt.Errorf("output %q: TDX MRTD: %w", f.Name, err)
			}
			out = append(out, Artifact{
				Name:   fmt.Sprintf("%s.tdx-mrtd.%s", f.Name, order),
				Digest: map[string]string{"sha384": hex.EncodeToString(d[:])},
				Annotations: map[string]any{
					"description":  "TDX MRTD of the firmware (TDVF metadata sections, TD HOB of zeros)",
					"pageAddOrder": order.String(),
				},
			})
		}
	}
	return out, nil
}
