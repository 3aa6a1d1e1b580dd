//go:build !measure_front

package main

import "testing"

// TestProfileFlag: --profile selects a launch profile, reproducing digests
// sev-snp-measure recorded for hosts of each period
// (measure/snp/testdata/profiles/vectors.tsv: ssm-016, ssm-005, ssm-002,
// ssm-001), and a profile of a VMM type not asked for is a usage error.
func TestProfileFlag(t *testing.T) {
	const dir = "../../measure/snp/testdata/profiles/"
	x64, suffix := dir+"ovmf_OvmfX64_suffix-43a5698.bin", dir+"ovmf_suffix-cc6d7ca.bin"
	runCases(t, []cliCase{
		{"qemu, legacy KVM_SEV_INIT (ssm-016)", []string{"snp", "--ovmf", x64, "--vcpus", "1", "--vcpu-sig", "0x800f12", "--profile", "qemu-kvm-sev-init"}, 0,
			[]string{"7ef631fa7f659f7250de96c456a0eb7354bd3b9461982f386a41c6a6aede87870ad020552a5a0716672d5d6e5b86b8f9\n"}, ""},
		{"ec2 before the RDX change (ssm-005)", []string{"snp", "--ovmf", suffix, "--vcpus", "1", "--vmm-type", "ec2", "--profile", "EC2-RDX-0"}, 0,
			[]string{"21408991204a77c12eb014cc7a1ad723b423069f421b873d1fa283472712182752a5ad6656f5e22aea239b6adde1db26\n"}, ""},
		{"two VMMs, a profile each, recorded in JSON (ssm-005, ssm-002)", []string{"snp", "--ovmf", suffix, "--vcpus", "1", "--vmm-type", "ec2,qemu", "--vcpu-sig", "0x800f12",
			"--profile", "ec2-rdx-0,qemu-kvm-sev-init", "--output", "json"}, 0,
			[]string{`"profile": "ec2-rdx-0"`, "21408991204a77c12eb014cc7a1ad723b423069f421b873d1fa283472712182752a5ad6656f5e22aea239b6adde1db26",
				`"profile": "qemu-kvm-sev-init"`, "d68382026a91989d9428675e9b220548b76db03c7523440316b90f0a72c33b5fee2ade72791fb1c0ff0a923741e5190d"}, ""},
		{"the default profile is recorded", []string{"snp", "--ovmf", suffix, "--vcpus", "1", "--vcpu-sig", "0x800f12", "--output", "json"}, 0,
			[]string{`"profile": "qemu-kvm-sev-init2"`}, ""},
		{"seves, legacy KVM_SEV_INIT, empty kernel and initrd (ssm-001)", []string{"seves", "--ovmf", suffix, "--vcpus", "1", "--vcpu-sig", "0x800f12",
			"--profile", "qemu-kvm-sev-init", "--kernel", "/dev/null", "--initrd", "/dev/null"}, 0,
			[]string{"7e5c26fb454621eb466978b4d0242b3c04b44a034de7fc0a2d8dac60ea2b6403\n"}, ""},
		{"a profile of another VMM", []string{"snp", "--ovmf", suffix, "--vcpus", "1", "--vcpu-sig", "0x800f12", "--profile", "ec2-rdx-0"}, exitUsage,
			nil, "--profile ec2-rdx-0 is a profile of --vmm-type ec2, which is not among --vmm-type qemu"},
		{"sev has no profiles", []string{"sev", "--ovmf", suffix, "--profile", "qemu-kvm-sev-init"}, exitUsage,
			nil, "SEV launches have no initial vCPU state"},
		{"an unknown profile", []string{"snp", "--ovmf", suffix, "--vcpus", "1", "--vcpu-sig", "0x800f12", "--profile", "qemu-2019"}, exitUsage,
			nil, `profile "qemu-2019" is unknown`},
	})
}
