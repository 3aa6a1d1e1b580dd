//go:build !measure_front

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/measure-cc/measure/measure"
	"github.com/measure-cc/measure/ovmf/ovmftest"
	"github.com/measure-cc/measure/provenance"
)

// checkGolden compares got with testdata/name byte for byte, or rewrites it
// with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (-want +got):\n%s", path, cmp.Diff(string(want), string(got)))
	}
}

// amdSevImage writes a synthetic firmware laid out like an edk2 AmdSevX64
// build, which measured direct boot needs, and returns its path.
func amdSevImage(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "OVMF-AmdSev.fd")
	if err := os.WriteFile(path, ovmftest.AmdSev().MustBuild(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// bootFiles writes a kernel and an initrd and returns their paths.
func bootFiles(t *testing.T, dir string) (kernel, initrd string) {
	t.Helper()
	kernel, initrd = filepath.Join(dir, "vmlinuz"), filepath.Join(dir, "initrd.img")
	if err := os.WriteFile(kernel, []byte("a kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(initrd, []byte("an initrd"), 0o644); err != nil {
		t.Fatal(err)
	}
	return kernel, initrd
}

func TestStatementGolden(t *testing.T) {
	dir := t.TempDir()
	amd := amdSevImage(t, dir)
	kernel, initrd := bootFiles(t, dir)
	seed, _, code := runCLI("snp-ovmf-hash", "--ovmf", trixie)
	if code != 0 {
		t.Fatalf("snp-ovmf-hash exit %d", code)
	}
	seed = strings.TrimSpace(seed)
	tests := []struct {
		name string
		args []string
		env  string // SOURCE_DATE_EPOCH, when set
	}{
		{name: "snp-sweep", args: []string{"snp", "--ovmf", trixie, "--vcpus", "1,4", "--vcpu-type", "EPYC-Milan,EPYC-Genoa", "--vmm-type", "qemu,ec2"}},
		{name: "snp-seed", args: []string{"snp", "--ovmf", trixie, "--snp-ovmf-hash", seed, "--vcpus", "2", "--vcpu-sig", "0x800f12", "--guest-features", "0x21"}},
		{name: "snp-boot", args: []string{"snp", "--ovmf", amd, "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--kernel", kernel, "--initrd", initrd, "--append", "console=ttyS0 <&>"}},
		{name: "snp-timestamp", args: []string{"snp", "--ovmf", trixie, "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--timestamp"}, env: "1700000000"},
		{name: "seves", args: []string{"seves", "--ovmf", trixie, "--vcpus", "2", "--vcpu-type", "EPYC-Rome"}},
		{name: "sev-boot", args: []string{"sev", "--ovmf", amd, "--kernel", kernel}},
		{name: "sev", args: []string{"sev", "--ovmf", trixie}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("SOURCE_DATE_EPOCH", tc.env)
			}
			args := append(append([]string{}, tc.args...), "--output", "statement")
			out, stderr, code := runCLI(args...)
			if code != 0 {
				t.Fatalf("measure %s: exit %d: %s", strings.Join(args, " "), code, stderr)
			}
			checkGolden(t, "statement-"+tc.name+".json", []byte(out))

			again, _, _ := runCLI(args...)
			if again != out {
				t.Errorf("second run differs:\n%s", cmp.Diff(out, again))
			}
			st, err := provenance.ParseStatement([]byte(out))
			if err != nil {
				t.Fatalf("ParseStatement: %v", err)
			}
			rv, err := provenance.ReferenceValuesFromStatement(st)
			if err != nil {
				t.Fatalf("ReferenceValuesFromStatement: %v", err)
			}
			checkAgainstJSON(t, tc.args, rv)
		})
	}
}

// checkAgainstJSON checks that the statement carries, configuration by
// configuration, the measurements and inputs of --output json.
func checkAgainstJSON(t *testing.T, args []string, rv *provenance.ReferenceValues) {
	t.Helper()
	var plain []string
	for _, a := range args {
		if a != "--timestamp" {
			plain = append(plain, a)
		}
	}
	out, stderr, code := runCLI(append(plain, "--output", "json")...)
	if code != 0 {
		t.Fatalf("--output json: exit %d: %s", code, stderr)
	}
	// The JSON form of record, flat (record embeds an unexported type,
	// which encoding/json cannot decode into).
	type jsonRecord struct {
		VMMType       string `json:"vmm_type"`
		VCPUs         int    `json:"vcpus"`
		VCPUType      string `json:"vcpu_type"`
		VCPUSig       string `json:"vcpu_sig"`
		GuestFeatures string `json:"guest_features"`
		Profile       string `json:"profile"`
		OVMFSHA256    string `json:"ovmf_sha256"`
		KernelSHA256  string `json:"kernel_sha256"`
		InitrdSHA256  string `json:"initrd_sha256"`
		Append        string `json:"append"`
		CmdlineSHA256 string `json:"cmdline_sha256"`
		Measurement   string `json:"measurement"`
	}
	var recs []jsonRecord
	if err := json.Unmarshal([]byte(out), &recs); err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(rv.Values) {
		t.Fatalf("statement has %d values, --output json %d", len(rv.Values), len(recs))
	}
	for i, r := range recs {
		v := rv.Values[i]
		want := provenance.Configuration{VMMType: r.VMMType, VCPUs: r.VCPUs, VCPUType: r.VCPUType, VCPUSig: r.VCPUSig, GuestFeatures: r.GuestFeatures, Profile: r.Profile}
		// The predicate names a profile only when it is not the VMM's
		// default (provenance/refvalues), the JSON always.
		if vmm, err := measure.ParseVMM(r.VMMType); err == nil && string(measure.DefaultProfile(vmm)) == r.Profile {
			want.Profile = ""
		}
		if diff := cmp.Diff(want, v.Configuration); diff != "" {
			t.Errorf("value %d configuration (-json +statement):\n%s", i, diff)
		}
		var got string
		for _, d := range v.Measurements[0].Digest {
			got = d
		}
		if got != r.Measurement {
			t.Errorf("value %d measurement %s, --output json says %s", i, got, r.Measurement)
		}
	}
	if rv.Firmware.Digest["sha256"] != recs[0].OVMFSHA256 {
		t.Errorf("firmware sha256 %s, --output json says %s", rv.Firmware.Digest["sha256"], recs[0].OVMFSHA256)
	}
	if b := recs[0]; b.KernelSHA256 != "" {
		if rv.Boot == nil || rv.Boot.Kernel.Digest["sha256"] != b.KernelSHA256 || rv.Boot.Initrd.Digest["sha256"] != b.InitrdSHA256 || rv.Boot.Cmdline.Digest["sha256"] != b.CmdlineSHA256 || rv.Boot.Cmdline.Value != b.Append {
			t.Errorf("boot inputs %+v, --output json says %+v", rv.Boot, b)
		}
	} else if rv.Boot != nil {
		t.Errorf("statement has boot inputs %+v, --output json none", rv.Boot)
	}
}

func TestStatementSubjects(t *testing.T) {
	dir := t.TempDir()
	amd := amdSevImage(t, dir)
	kernel, initrd := bootFiles(t, dir)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "firmware only", args: []string{"sev", "--ovmf", amd}, want: []string{"OVMF-AmdSev.fd"}},
		{name: "kernel", args: []string{"sev", "--ovmf", amd, "--kernel", kernel}, want: []string{"OVMF-AmdSev.fd", "vmlinuz"}},
		{name: "kernel and initrd", args: []string{"sev", "--ovmf", amd, "--kernel", kernel, "--initrd", initrd}, want: []string{"OVMF-AmdSev.fd", "vmlinuz", "initrd.img"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, code := runCLI(append(tc.args, "-o", "statement")...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			st, err := provenance.ParseStatement([]byte(out))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range st.GetSubject() {
				got = append(got, s.GetName())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("subjects (-want +got):\n%s", diff)
			}
			// Each subject's digests are those of the file.
			for i, path := range []string{amd, kernel, initrd}[:len(tc.want)] {
				d, err := fileDigests(path)
				if err != nil {
					t.Fatal(err)
				}
				for alg, v := range st.GetSubject()[i].GetDigest() {
					if d[alg] != v {
						t.Errorf("subject %s %s = %s, file has %s", tc.want[i], alg, v, d[alg])
					}
				}
			}
		})
	}
}

func TestStatementUsageErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     string
		wantErr string
	}{
		{name: "timestamp without statement", args: []string{"snp", "--ovmf", trixie, "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--timestamp"}, wantErr: "--timestamp needs --output statement"},
		{name: "bad SOURCE_DATE_EPOCH", args: []string{"sev", "--ovmf", trixie, "-o", "statement", "--timestamp"}, env: "yesterday", wantErr: `SOURCE_DATE_EPOCH "yesterday"`},
		{name: "snp-ovmf-hash has no statement", args: []string{"snp-ovmf-hash", "--ovmf", trixie, "-o", "statement"}, wantErr: `--output "statement" is unknown`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("SOURCE_DATE_EPOCH", tc.env)
			}
			out, stderr, code := runCLI(tc.args...)
			if code != exitUsage || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, exitUsage, tc.wantErr)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
		})
	}
}
