package refvalues

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/measure-cc/measure/measure"
	"github.com/measure-cc/measure/provenance"
)

// TestRegistersAgree: every platform and register the facade produces is
// one the predicate accepts, and the other way round.
func TestRegistersAgree(t *testing.T) {
	var platforms []string
	for _, p := range []measure.Platform{measure.PlatformSEV, measure.PlatformSEVES, measure.PlatformSNP, measure.PlatformTDX} {
		platforms = append(platforms, string(p))
		var regs []string
		for _, r := range measure.Registers(p) {
			regs = append(regs, string(r))
		}
		if !reflect.DeepEqual(regs, provenance.Registers[string(p)]) {
			t.Errorf("%s: measure.Registers = %v, provenance.Registers = %v", p, regs, provenance.Registers[string(p)])
		}
	}
	if !reflect.DeepEqual(platforms, provenance.Platforms) {
		t.Errorf("platforms %v, provenance.Platforms %v", platforms, provenance.Platforms)
	}
	var vmms []string
	for _, v := range measure.VMMs() {
		vmms = append(vmms, v.String())
	}
	if !reflect.DeepEqual(vmms, provenance.VMMTypes) {
		t.Errorf("VMM types %v, provenance.VMMTypes %v", vmms, provenance.VMMTypes)
	}
}

func TestConfiguration(t *testing.T) {
	milan := measure.CPU{Name: "EPYC-Milan", Signature: 0xa00f11}
	tests := []struct {
		launch measure.Launch
		want   provenance.Configuration
	}{
		{measure.SEV{}, provenance.Configuration{}},
		{measure.SEVES{VMM: measure.VMMQEMU, VCPUs: 2, CPU: milan}, provenance.Configuration{VMMType: "qemu", VCPUs: 2, VCPUType: "EPYC-Milan", VCPUSig: "0xa00f11"}},
		{measure.SEVES{VMM: measure.VMMEC2, VCPUs: 2, CPU: milan}, provenance.Configuration{VMMType: "ec2", VCPUs: 2}},
		{measure.SNP{VMM: measure.VMMQEMU, VCPUs: 4, CPU: measure.CPU{Signature: 0x800f12}, GuestFeatures: 0x21}, provenance.Configuration{VMMType: "qemu", VCPUs: 4, VCPUSig: "0x800f12", GuestFeatures: "0x21"}},
		// A launch's own profile is recorded as it is.
		{measure.SNP{VMM: measure.VMMQEMU, VCPUs: 4, CPU: measure.CPU{Signature: 0x800f12}, GuestFeatures: 0x21, Profile: measure.ProfileQEMUInit}, provenance.Configuration{VMMType: "qemu", VCPUs: 4, VCPUSig: "0x800f12", GuestFeatures: "0x21", Profile: "qemu-kvm-sev-init"}},
		{measure.SNP{VMM: measure.VMMGCE, VCPUs: 1, CPU: milan, GuestFeatures: 1}, provenance.Configuration{VMMType: "gce", VCPUs: 1, GuestFeatures: "0x1"}},
		// The page-add order changes MRTD; QEMU's version and the memory
		// size, RTMR0 (and MRTD where the TD HOB is extended).
		{measure.DefaultTDX(), provenance.Configuration{PageAddOrder: "single-pass", QEMUVersion: "10.2", Memory: "128M"}},
	}
	for _, tc := range tests {
		if got := Configuration(tc.launch); got != tc.want {
			t.Errorf("Configuration(%v) = %+v, want %+v", tc.launch, got, tc.want)
		}
	}
}

func TestNew(t *testing.T) {
	fw := provenance.Firmware{Name: "OVMF.fd", Digest: map[string]string{"sha256": strings.Repeat("a", 64), "sha384": strings.Repeat("b", 96)}}
	tool := provenance.Tool{Name: "measure", Version: "test"}
	v384, _ := measure.NewValue(measure.Measurement, measure.SHA384, make([]byte, 48))
	v256, _ := measure.NewValue(measure.LaunchDigest, measure.SHA256, make([]byte, 32))
	snp := measure.Result{Launch: measure.SNP{VMM: measure.VMMEC2, VCPUs: 1}, Values: []measure.Value{v384}}
	rv, err := New(fw, nil, []measure.Result{snp}, tool)
	if err != nil {
		t.Fatal(err)
	}
	want := []provenance.ReferenceValue{{
		Configuration: provenance.Configuration{VMMType: "ec2", VCPUs: 1, GuestFeatures: "0x0"},
		Measurements:  []provenance.Measurement{{Register: "MEASUREMENT", Digest: map[string]string{"sha384": strings.Repeat("0", 96)}}},
	}}
	if rv.Platform != "sev-snp" || !reflect.DeepEqual(rv.Values, want) {
		t.Errorf("New = %+v, want sev-snp %+v", rv, want)
	}
	sev := measure.Result{Launch: measure.SEV{}, Values: []measure.Value{v256}}
	for name, tc := range map[string]struct {
		results []measure.Result
		wantErr string
	}{
		"empty":             {nil, "no measurements"},
		"mixed":             {[]measure.Result{snp, sev}, "cannot share one predicate"},
		"wrong register":    {[]measure.Result{{Launch: measure.SEV{}, Values: []measure.Value{v384}}}, `register "MEASUREMENT"`},
		"same launch twice": {[]measure.Result{snp, snp}, "repeats"},
	} {
		if _, err := New(fw, nil, tc.results, tool); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: New error = %v, want %q", name, err, tc.wantErr)
		}
	}
	kh := (&measure.Boot{Kernel: []byte("k"), Cmdline: "c"}).KernelHashes()
	b := Boot("bzImage", "", "c", kh)
	if b.Initrd.Name != "" || b.Kernel.Digest["sha256"] == "" || !slices.Contains([]string{b.Cmdline.Value}, "c") {
		t.Errorf("Boot = %+v", b)
	}
}
