package firmware

import (
	"fmt"
	"os"

	"github.com/measure-cc/measure/builders/engine"
	"github.com/measure-cc/measure/measure"
	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/provenance"
	"github.com/measure-cc/measure/provenance/refvalues"
)

// BuildType is the SLSA buildType of a firmware build.
const BuildType = "https://github.com/measure-cc/measure/builders/firmware/v1"

// BuilderID is the SLSA builder.id of `measure build`.
const BuilderID = engine.BuilderID

func provenanceInputs(r *Recipe, res *engine.Result, _ int) (*provenance.Build, error) {
	in := res.Provenance(BuildType)
	in.ExternalParameters["recipe"] = r
	in.InternalParameters["buildArgs"] = r.BuildArgs(0)
	// The engine lists the sources, then the toolchain: the patches go
	// between them.
	n := len(r.Sources)
	deps := append([]provenance.Artifact(nil), in.ResolvedDependencies[:n]...)
	for i, s := range r.Sources {
		deps[i].Name = s.FileName()
	}
	if r.Patches.Series != "" {
		deps = append(deps, provenance.Artifact{
			Name:        r.Patches.Series,
			Annotations: map[string]any{"note": "patch series inside the source tarballs above; pinned by their digests"},
		})
	}
	for _, f := range r.Patches.Files {
		d, err := patchDigest(f)
		if err != nil {
			return nil, err
		}
		deps = append(deps, provenance.Artifact{
			Name: "patches/" + f, Digest: map[string]string{"sha256": d},
		})
	}
	in.ResolvedDependencies = append(deps, in.ResolvedDependencies[n:]...)
	for _, f := range res.Files {
		bp, err := measurements(f)
		if err != nil {
			return nil, err
		}
		in.Byproducts = append(in.Byproducts, bp...)
	}
	return in, nil
}

// measurements returns the reference measurements of a firmware file that
// ovmf.Parse accepts and that carries SEV or TDX metadata. A VARS file or any
// other output yields none.
func measurements(f engine.File) ([]provenance.Artifact, error) {
	data, err := os.ReadFile(f.Path)
	if err != nil {
		return nil, err
	}
	img, err := ovmf.Parse(data)
	if err != nil {
		return nil, nil // not a whole firmware image (VARS, grub.efi): nothing to measure
	}
	var out []provenance.Artifact
	if img.SEVMetadata() != nil {
		out = append(out, provenance.Artifact{
			Name:   f.Name + ".snp-firmware-digest",
			Digest: refvalues.Digest(measure.SNPFirmwareDigest(img)),
			Annotations: map[string]any{
				"description":  "SEV-SNP launch digest after the firmware pages (sev-snp-measure's OVMF hash); seed for snp --snp-ovmf-hash",
				"sevHashTable": img.SEVHashTable() != nil,
			},
		})
		epycV4, err := measure.LookupCPU("EPYC-v4")
		if err != nil {
			return nil, err
		}
		m := measure.NewMeasurer(img, nil, measure.Options{})
		for _, n := range []int{1, 2, 4} {
			r, err := m.Measure(measure.SNP{VMM: measure.VMMQEMU, VCPUs: n, CPU: epycV4, GuestFeatures: 1})
			if err != nil {
				break // no reset block or metadata: the firmware digest stands alone
			}
			out = append(out, provenance.Artifact{
				Name:   fmt.Sprintf("%s.snp-measurement.qemu.epyc-v4.%dvcpu", f.Name, n),
				Digest: refvalues.Digest(r.Values[0]),
				Annotations: map[string]any{
					"vmm": "qemu", "vcpus": n, "vcpuType": "EPYC-v4", "guestFeatures": "0x1",
				},
			})
		}
	}
	if _, err := img.TDVFMetadata(); err == nil {
		m := measure.NewMeasurer(img, nil, measure.Options{})
		for _, order := range []measure.PageAddOrder{measure.SinglePass, measure.TwoPass} {
			l := measure.DefaultTDX()
			l.PageAddOrder = order
			r, err := m.Measure(l)
			if err != nil {
				return nil, fmt.Errorf("output %q: TDX MRTD: %w", f.Name, err)
			}
			out = append(out, provenance.Artifact{
				Name:   fmt.Sprintf("%s.tdx-mrtd.%s", f.Name, order),
				Digest: refvalues.Digest(r.Values[0]),
				Annotations: map[string]any{
					"description":  "TDX MRTD of the firmware (TDVF metadata sections, the TD HOB QEMU writes for 128 MiB)",
					"pageAddOrder": order.String(),
				},
			})
		}
	}
	return out, nil
}
