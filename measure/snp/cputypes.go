package snp

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// CPUType is a QEMU vCPU model and the CPUID family/model/stepping QEMU
// gives it. Under SEV-ES and SEV-SNP QEMU passes the CPUID leaf 1 EAX
// signature to the guest in RDX of the initial VMSA, so the model is part of
// the launch digest.
type CPUType struct {
	Name     string
	Family   uint32
	Model    uint32
	Stepping uint32
}

// Signature returns the CPUID Fn0000_0001 EAX value.
func (c CPUType) Signature() uint32 { return CPUSignature(c.Family, c.Model, c.Stepping) }

// CPUSignature composes CPUID Fn0000_0001 EAX from a family, model and
// stepping (AMD CPUID Specification #25481; QEMU target/i386/cpu.c
// x86_cpuid_version_set_family/model/stepping): families above 0xf are
// BaseFamily 0xf plus ExtFamily; the model is split into ExtModel:BaseModel.
func CPUSignature(family, model, stepping uint32) uint32 {
	famBase, famExt := family, uint32(0)
	if family > 0xf {
		famBase, famExt = 0xf, (family-0xf)&0xff
	}
	return famExt<<20 | (model>>4&0xf)<<16 | famBase<<8 | (model&0xf)<<4 | stepping&0xf
}

// epycModels are QEMU's AMD EPYC models with the versions QEMU registers for
// each (QEMU target/i386/cpu.c builtin_x86_defs, as of QEMU 10.1). No version
// overrides family, model or stepping, so all versions of a model share its
// signature. An unversioned name resolves to -v1 on machine types >= 4.1.
var epycModels = []struct {
	name                    string
	family, model, stepping uint32
	versions                int
	aliases                 []string
}{
	{"EPYC", 23, 1, 2, 5, []string{"EPYC-IBPB"}}, // EPYC-IBPB is EPYC-v2
	{"EPYC-Rome", 23, 49, 0, 5, nil},
	{"EPYC-Milan", 25, 1, 1, 3, nil},
	{"EPYC-Genoa", 25, 17, 0, 2, nil},
	{"EPYC-Turin", 26, 0, 0, 1, nil},
}

// cpuTypes indexes epycModels by lower-case name, built on first use.
var cpuTypes = sync.OnceValue(func() map[string]CPUType {
	m := map[string]CPUType{}
	for _, e := range epycModels {
		add := func(name string) {
			m[strings.ToLower(name)] = CPUType{Name: name, Family: e.family, Model: e.model, Stepping: e.stepping}
		}
		add(e.name)
		for v := 1; v <= e.versions; v++ {
			add(fmt.Sprintf("%s-v%d", e.name, v))
		}
		for _, a := range e.aliases {
			add(a)
		}
	}
	return m
})

// LookupCPUType finds a QEMU vCPU model by name, ignoring case.
func LookupCPUType(name string) (CPUType, error) {
	c, ok := cpuTypes()[strings.ToLower(name)]
	if !ok {
		return CPUType{}, fmt.Errorf("vCPU type %q is unknown (see --list-vcpu-types)", name)
	}
	return c, nil
}

// CPUTypes returns every known vCPU model, sorted by family, model and name.
func CPUTypes() []CPUType {
	types := cpuTypes()
	out := make([]CPUType, 0, len(types))
	for _, c := range types {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Signature() != b.Signature() {
			return a.Signature() < b.Signature()
		}
		return a.Name < b.Name
	})
	return out
}
