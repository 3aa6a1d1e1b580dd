package verify_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/measure-cc/measure/measure"
	"github.com/measure-cc/measure/measure/snp"
	"github.com/measure-cc/measure/verify"
)

func TestNewExplanationRecord(t *testing.T) {
	seed := snp.SNPDigest{0xab}
	seedHex := "ab" + strings.Repeat("00", 47)
	tests := []struct {
		name string
		in   verify.ExplanationInputs
		ex   verify.Explanation
		want string
	}{
		{
			name: "sev-es bare measurement unexplained",
			in:   verify.ExplanationInputs{Platform: measure.PlatformSEVES, Measurement: []byte{0x01, 0xfe}, Firmware: "OVMF.fd"},
			ex:   verify.Explanation{Platform: measure.PlatformSEVES, Searched: 7, Skipped: []string{"measured direct boot: no hashes table"}},
			want: `{"result":"unexplained","platform":"sev-es","measurement":"01fe","firmware":"OVMF.fd","searched":7,"skipped":["measured direct boot: no hashes table"]}`,
		},
		{
			name: "sev-es default profile",
			in:   verify.ExplanationInputs{Platform: measure.PlatformSEVES, Measurement: []byte{0x02}, Firmware: "OVMF.fd"},
			ex: verify.Explanation{Platform: measure.PlatformSEVES, Searched: 1, Found: []verify.Found{{
				Platform: measure.PlatformSEVES, Config: snp.Config{VCPUs: 2, VCPUSig: 0xa00f11, VMM: snp.VMMQEMU, Profile: snp.ProfileQEMUInit2},
				VCPUTypes: []string{"EPYC-Milan", "EPYC-Milan-v1"},
			}}},
			want: `{"result":"explained","platform":"sev-es","measurement":"02","firmware":"OVMF.fd","searched":1,"found":[` +
				`{"vmm_type":"qemu","profile":"qemu-kvm-sev-init2","default_profile":true,"vcpus":2,"vcpu_types":["EPYC-Milan","EPYC-Milan-v1"],"vcpu_sig":"0xa00f11",` +
				`"kernel":false,"initrd":false,"cmdline":false,"flags":"--vmm-type qemu --vcpus 2 --vcpu-type EPYC-Milan",` +
				`"command":"measure seves --ovmf OVMF.fd --vmm-type qemu --vcpus 2 --vcpu-type EPYC-Milan"}]}`,
		},
		{
			name: "sev-snp seeded, other profile, direct boot with quoted words",
			in: verify.ExplanationInputs{Platform: measure.PlatformSNP, Measurement: []byte{0x03}, Firmware: "my OVMF.fd", Seed: &seed,
				Kernel: "vmlinuz", Initrd: "initrd.img", Cmdline: "console=ttyS0 it's"},
			ex: verify.Explanation{Platform: measure.PlatformSNP, Searched: 3, Found: []verify.Found{{
				Platform: measure.PlatformSNP, Config: snp.Config{VCPUs: 4, VMM: snp.VMMEC2, GuestFeatures: 0x21, Profile: snp.ProfileEC2RDX0},
				Boot: verify.Boot{Kernel: true, Initrd: true, Cmdline: true},
			}}},
			want: `{"result":"explained","platform":"sev-snp","measurement":"03","firmware":"my OVMF.fd","snp_ovmf_hash":"` + seedHex + `","searched":3,"found":[` +
				`{"vmm_type":"ec2","profile":"ec2-rdx-0","default_profile":false,"vcpus":4,"guest_features":"0x21",` +
				`"kernel":true,"initrd":true,"cmdline":true,` +
				`"flags":"--vmm-type ec2 --vcpus 4 --guest-features 0x21 --profile ec2-rdx-0 --kernel KERNEL --initrd INITRD --append CMDLINE",` +
				`"command":"measure snp --ovmf 'my OVMF.fd' --vmm-type ec2 --vcpus 4 --guest-features 0x21 --profile ec2-rdx-0 --snp-ovmf-hash ` + seedHex +
				` --kernel vmlinuz --initrd initrd.img --append 'console=ttyS0 it'\\''s'"}]}`,
		},
		{
			name: "kernel without initrd or command line",
			in:   verify.ExplanationInputs{Platform: measure.PlatformSNP, Measurement: []byte{0x04}, Firmware: "OVMF.fd", Kernel: "bz", Initrd: "unused", Cmdline: "unused"},
			ex: verify.Explanation{Platform: measure.PlatformSNP, Searched: 1, Found: []verify.Found{{
				Platform: measure.PlatformSNP, Config: snp.Config{VCPUs: 1, VMM: snp.VMMQEMU, GuestFeatures: 1, Profile: snp.ProfileQEMUInit2},
				Boot: verify.Boot{Kernel: true},
			}}},
			want: `{"result":"explained","platform":"sev-snp","measurement":"04","firmware":"OVMF.fd","searched":1,"found":[` +
				`{"vmm_type":"qemu","profile":"qemu-kvm-sev-init2","default_profile":true,"vcpus":1,"guest_features":"0x1",` +
				`"kernel":true,"initrd":false,"cmdline":false,"flags":"--vmm-type qemu --vcpus 1 --guest-features 0x1 --kernel KERNEL",` +
				`"command":"measure snp --ovmf OVMF.fd --vmm-type qemu --vcpus 1 --guest-features 0x1 --kernel bz"}]}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(verify.NewExplanationRecord(tc.in, &tc.ex))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("NewExplanationRecord JSON (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExplainedConfigurationBoot(t *testing.T) {
	e := verify.ExplainedConfiguration{Kernel: true, Cmdline: true}
	if got, want := e.Boot().String(), "measured direct boot of the given kernel, command line"; got != want {
		t.Errorf("Boot() = %q, want %q", got, want)
	}
}

func TestShellCommand(t *testing.T) {
	got := verify.ShellCommand("measure", "", "a b", "it's", "x=1,2:@%+-./_")
	want := `measure '' 'a b' 'it'\''s' x=1,2:@%+-./_`
	if got != want {
		t.Errorf("ShellCommand = %s, want %s", got, want)
	}
}
