//go:build !measure_front

package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	svsmDir  = "../../measure/snp/testdata/svsm/"
	svsmBin  = svsmDir + "svsm.bin"
	svsmOVMF = svsmDir + "svsm_ovmf.fd"
	// sev-snp-measure's tests/fixtures/ovmf_AmdSev_suffix.bin at 8f2b337.
	ssmAmdSev = "../../measure/snp/testdata/profiles/ovmf_AmdSev_suffix-0095249.bin"
)

// TestSVSMMode: --svsm reproduces sev-snp-measure's snp:svsm values
// (measure/snp/testdata/svsm/README.md): the real-hardware values of its
// tests 0a1396f..f89f064 with --profile qemu-kvm-sev-init, and those of
// ae95e59..8f2b337 with --sev-snp-measure-fcw-bug.
func TestSVSMMode(t *testing.T) {
	svsm := []string{"snp", "--ovmf", svsmOVMF, "--svsm", svsmBin, "--vcpu-type", "EPYC-v4"}
	with := func(extra ...string) []string { return append(append([]string(nil), svsm...), extra...) }
	runCases(t, []cliCase{
		{"real hardware, 4 vCPUs", with("--vars-size", "540672", "--vcpus", "4", "--profile", "qemu-kvm-sev-init"), 0,
			[]string{"265aed64f2454253f6b19e49e17041ef052dedf964dd8d2740794a06aee3a720c475e3643a1b7e26b9efce7a107bf77f\n"}, ""},
		{"real hardware, 2 vCPUs, vars size in hex", with("--vars-size", "0x84000", "--vcpus", "2", "--profile", "qemu-kvm-sev-init"), 0,
			[]string{"4ae03ca013690e956bc1eb16bc1c6465788dba64ad88a650db09216fa9cdddf06167bfce810eba8988108e71458dd68b\n"}, ""},
		{"--vars-file gives its size", with("--vars-file", svsmOVMF, "--vcpus", "4", "--profile", "qemu-kvm-sev-init"), 0,
			[]string{"6fd1c8da02b9475f6b4ded09bf248b2318150b9c1dc4c3f8e9fe29f2304206b8cb9111fee10e8ba8f7ca3e59b62a86e1\n"}, ""},
		{"sev-snp-measure today, 4 vCPUs", with("--vars-size", "540672", "--vcpus", "4", "--sev-snp-measure-fcw-bug"), 0,
			[]string{"27d154c27b7b359c935e250ec6fee72aa0ae8c1225e3b0e1cf46a9567e938066d7d6f94bbdc4a857818bdb79277a44b2\n"}, ""},
		{"sev-snp-measure today, 2 vCPUs, in JSON", with("--vars-size", "540672", "--vcpus", "2", "--sev-snp-measure-fcw-bug", "-o", "json"), 0,
			[]string{`"measurement": "9b94745036aafddf4f7f8b00c7513abb5b7703178cb95aaa57928bd963d68d3bfcb715d6019b9167ee2517b11b0d9be7"`,
				`"profile": "qemu-kvm-sev-init2"`, `"sev_snp_measure_fcw_bug": true`, `"svsm_entry_point": "0xffaea000"`,
				`"svsm_sha256": "287fcee67b501b072e4953b5006059d088b454e9197bc318885385acb233d5d1"`}, ""},
		{"default: KVM_SEV_INIT2 with FCW set", with("--vars-size", "540672", "--vcpus", "4"), 0,
			[]string{"a250e27d37f247ea53d86d2f446054dfe6de1403436232d6075b45f0e48b91cdb50f9b6c3273b0ca5da03c6feafb51de\n"}, ""},
		{"no vars size", with("--vcpus", "2"), exitUsage, nil, "--svsm needs --vars-size or --vars-file"},
		{"vars size 0", with("--vars-size", "0", "--vcpus", "2"), exitUsage, nil, "--vars-size 0"},
		{"both vars flags", with("--vars-size", "540672", "--vars-file", svsmOVMF, "--vcpus", "2"), exitUsage, nil, "vars-file"},
		{"unaligned vars size", with("--vars-size", "540671", "--vcpus", "2"), exitUsage, nil, "multiple of 4 KiB"},
		{"missing vars file", with("--vars-file", "/nonexistent/OVMF_VARS.fd", "--vcpus", "2"), exitUnreadable, nil, "OVMF_VARS.fd"},
		{"vars size without --svsm", []string{"snp", "--ovmf", svsmOVMF, "--vars-size", "540672", "--vcpus", "2", "--vcpu-type", "EPYC-v4"}, exitUsage, nil, "--vars-size needs --svsm"},
		{"quirk without --svsm", []string{"snp", "--ovmf", svsmOVMF, "--sev-snp-measure-fcw-bug", "--vcpus", "2", "--vcpu-type", "EPYC-v4"}, exitUsage, nil, "--sev-snp-measure-fcw-bug needs --svsm"},
		{"quirk with the legacy profile", with("--vars-size", "540672", "--vcpus", "2", "--profile", "qemu-kvm-sev-init", "--sev-snp-measure-fcw-bug"), exitUsage, nil, "applies to --profile qemu-kvm-sev-init2 only"},
		{"ec2", with("--vars-size", "540672", "--vcpus", "2", "--vmm-type", "ec2"), exitUsage, nil, "SVSM mode is QEMU's"},
		{"guest features", with("--vars-size", "540672", "--vcpus", "2", "--guest-features", "0x21"), exitUsage, nil, "--guest-features 0x21 does not apply"},
		{"kernel", with("--vars-size", "540672", "--vcpus", "2", "--kernel", "/dev/null"), exitUsage, nil, "--kernel does not apply"},
		{"statement", with("--vars-size", "540672", "--vcpus", "2", "-o", "statement"), exitUsage, nil, "--output statement is not supported"},
		{"SVSM binary without SVSM_INFO", with("--vars-size", "540672", "--vcpus", "2", "--svsm", ssmAmdSev), exitError, nil, "SVSM_INFO"},
	})
}

// TestDumpVMSA: --dump-vmsa DIR writes the VMSA pages with
// sev-snp-measure's names and bytes (sha256 of the vmsa{i}.bin that
// sev-snp-measure writes: 8f2b337, or f89f064 for the legacy SVSM VMSA).
func TestDumpVMSA(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // sha256 of vmsa0.bin, vmsa1.bin, ...
	}{
		{"snp", []string{"snp", "--ovmf", ssmAmdSev, "--vcpus", "2", "--vcpu-type", "EPYC-v4"},
			[]string{"591598a62aa556861a392da67feab71a919975d97a579eb1df12503178c9cbb3", "4ffee74d299a5d74748460fd6238d5cdbb7da2fe1c12476a9bf3c8ecdbdcd905"}},
		{"snp ec2", []string{"snp", "--ovmf", ssmAmdSev, "--vcpus", "2", "--vmm-type", "ec2"},
			[]string{"d6c9d0409668043e96874082e992eb1a08393f1ad6f3c1be450e51bc2cc66004", "ce413781191b8f11f8cf1a4a5d9d7f9824356c02390b47ea0d33976bc2430b90"}},
		{"snp gce", []string{"snp", "--ovmf", ssmAmdSev, "--vcpus", "2", "--vmm-type", "gce"},
			[]string{"a2b1355de1e1f11159d4cfaa28a748c6d19f63b330a7cb09696eda0c5f2f8ab8", "e62b24c0430d685360090aa7362d89bc9009a43794cdd274a57abb8fada49344"}},
		{"snp with a seed", []string{"snp", "--ovmf", ssmAmdSev, "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--snp-ovmf-hash", "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"},
			[]string{"591598a62aa556861a392da67feab71a919975d97a579eb1df12503178c9cbb3"}},
		{"seves", []string{"seves", "--ovmf", ssmAmdSev, "--vcpus", "2", "--vcpu-type", "EPYC-v4"},
			[]string{"8295cef559b57130391d59605890ef93297720b48bef9a8c3c985b9c3fb0788c", "7ff723da33f39dedbe8336bb697e0a2f76471690074d5902e1a8177cd5312c95"}},
		{"svsm, sev-snp-measure today", []string{"snp", "--ovmf", svsmOVMF, "--svsm", svsmBin, "--vars-size", "540672", "--vcpus", "2", "--vcpu-type", "EPYC-v4", "--sev-snp-measure-fcw-bug"},
			[]string{"b1187625be0760978a6911cbeb452afbc4da5e11715e4f5bc8ffdc36ea06cac9", "b1187625be0760978a6911cbeb452afbc4da5e11715e4f5bc8ffdc36ea06cac9"}},
		{"svsm, legacy", []string{"snp", "--ovmf", svsmOVMF, "--svsm", svsmBin, "--vars-size", "540672", "--vcpus", "2", "--vcpu-type", "EPYC-v4", "--profile", "qemu-kvm-sev-init"},
			[]string{"ca6b998579f90916b68006f053f7fc628a77dc717be09eb0e3bcf3f982f66975", "ca6b998579f90916b68006f053f7fc628a77dc717be09eb0e3bcf3f982f66975"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			// A stale file is replaced, not followed or appended to.
			if err := os.WriteFile(filepath.Join(dir, "vmsa0.bin"), []byte("stale"), 0o644); err != nil {
				t.Fatal(err)
			}
			plain, _, code := runCLI(tc.args...)
			stdout, stderr, code2 := runCLI(append(tc.args, "--dump-vmsa", dir)...)
			if code != 0 || code2 != 0 {
				t.Fatalf("exit %d and %d with --dump-vmsa, want 0: %s", code, code2, stderr)
			}
			if stdout != plain {
				t.Errorf("stdout with --dump-vmsa %q, without %q", stdout, plain)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != len(tc.want) {
				t.Errorf("%d files in DIR, want %d", len(entries), len(tc.want))
			}
			for i, want := range tc.want {
				b, err := os.ReadFile(filepath.Join(dir, "vmsa"+string(rune('0'+i))+".bin"))
				if err != nil {
					t.Fatal(err)
				}
				if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != want || len(b) != 4096 {
					t.Errorf("vmsa%d.bin: %d bytes, sha256 %x, want 4096 bytes, %s", i, len(b), got, want)
				}
			}
		})
	}
	notDir := writeTemp(t, "file", []byte("x"))
	runCases(t, []cliCase{
		{"missing DIR", []string{"snp", "--ovmf", ssmAmdSev, "--vcpus", "2", "--vcpu-type", "EPYC-v4", "--dump-vmsa", filepath.Join(t.TempDir(), "missing")}, exitUnreadable, nil, "--dump-vmsa"},
		{"DIR is a file", []string{"seves", "--ovmf", ssmAmdSev, "--vcpus", "2", "--vcpu-type", "EPYC-v4", "--dump-vmsa", notDir}, exitUnreadable, nil, "is not a directory"},
		{"several configurations", []string{"snp", "--ovmf", ssmAmdSev, "--vcpus", "1-2", "--vcpu-type", "EPYC-v4", "--dump-vmsa", t.TempDir()}, exitUsage, nil, "--dump-vmsa needs one configuration, not 2"},
		{"several svsm configurations", []string{"snp", "--ovmf", svsmOVMF, "--svsm", svsmBin, "--vars-size", "540672", "--vcpus", "1,2", "--vcpu-type", "EPYC-v4", "--dump-vmsa", t.TempDir()}, exitUsage, nil, "--dump-vmsa needs one configuration, not 2"},
	})
}

// TestDumpVMSASet: the dump is a set written whole: a failure leaves no
// file of it, and a run with fewer vCPUs removes an earlier run's extra
// VMSAs; an output that cannot be written exits 4, not 3.
func TestDumpVMSASet(t *testing.T) {
	args := func(n, dir string) []string {
		return []string{"snp", "--ovmf", ssmAmdSev, "--vcpus", n, "--vcpu-type", "EPYC-v4", "--dump-vmsa", dir}
	}
	dir := t.TempDir()
	if _, stderr, code := runCLI(args("3", dir)...); code != 0 {
		t.Fatalf("3 vCPUs: exit %d: %s", code, stderr)
	}
	if _, stderr, code := runCLI(args("2", dir)...); code != 0 {
		t.Fatalf("2 vCPUs: exit %d: %s", code, stderr)
	}
	names := func(d string) []string {
		es, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range es {
			out = append(out, e.Name())
		}
		return out
	}
	if got := names(dir); !slices.Equal(got, []string{"vmsa0.bin", "vmsa1.bin"}) {
		t.Errorf("after 3 then 2 vCPUs, %s holds %q, want vmsa0.bin and vmsa1.bin", dir, got)
	}

	// vmsa1.bin is a directory: nothing of the set is written.
	blocked := t.TempDir()
	if err := os.Mkdir(filepath.Join(blocked, "vmsa1.bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runCLI(args("3", blocked)...); code != exitError || strings.Count(stderr, "\n") != 1 {
		t.Errorf("blocked: exit %d, stderr %q; want %d, one line", code, stderr, exitError)
	}
	if got := names(blocked); !slices.Equal(got, []string{"vmsa1.bin"}) {
		t.Errorf("after a failed dump, %s holds %q, want only the directory that blocked it", blocked, got)
	}
	// An --output-file that cannot be written is a failed output (4), not
	// an unreadable input (3).
	if _, _, code := runCLI("snp", "--ovmf", ssmAmdSev, "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--output-file", filepath.Join(t.TempDir(), "missing", "out")); code != exitError {
		t.Errorf("--output-file into a missing directory: exit %d, want %d", code, exitError)
	}
}
