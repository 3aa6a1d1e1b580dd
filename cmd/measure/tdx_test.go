//go:build !measure_front

package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/measure-cc/measure/measure/tdx/tdxtest"
	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/ovmf/ovmftest"
)

var tdxShared = filepath.Join("..", "..", "..", "shared")

// tdxPlaceholders maps the vectors' $NAME placeholders to fixture paths
// (../shared/vectors/README.md).
func tdxPlaceholders() map[string]string {
	f := filepath.Join(tdxShared, "fixtures")
	return map[string]string{
		"$BOOKWORM_OVMF":    filepath.Join(f, "debian", "bookworm-OVMF.fd"),
		"$BOOKWORM_CODE4M":  filepath.Join(f, "debian", "bookworm-OVMF_CODE_4M.fd"),
		"$BOOKWORM_CODE":    filepath.Join(f, "debian", "bookworm-OVMF_CODE.fd"),
		"$TRIXIE_OVMF":      filepath.Join(f, "debian", "trixie-OVMF.fd"),
		"$TRIXIE_CODE4M":    filepath.Join(f, "debian", "trixie-OVMF_CODE_4M.fd"),
		"$TRIXIE_VARS4M_MS": filepath.Join(f, "debian", "trixie-OVMF_VARS_4M.ms.fd"),
		"$TRIXIE_VARS4M":    filepath.Join(f, "debian", "trixie-OVMF_VARS_4M.fd"),
		"$KERNEL":           filepath.Join(f, "debian", "vmlinuz-6.1.0-56-cloud-amd64"),
		"$INITRD1M":         filepath.Join(f, "zero-initrd-1MiB.bin"),
		"$INITRD":           filepath.Join(f, "test-initrd.cpio"),
		"$AMDSEV_SUFFIX":    filepath.Join(f, "upstream", "ovmf_AmdSev_suffix.bin"),
		"$OVMFX64_SUFFIX":   filepath.Join(f, "upstream", "ovmf_OvmfX64_suffix.bin"),
	}
}

// tdxSplitWords splits a command line as a POSIX shell would for the
// vectors: blanks separate words, single and double quotes group.
func tdxSplitWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '\\' && quote == '"' && i+1 < len(s) && strings.IndexByte(`"\$`, s[i+1]) >= 0 {
				i++
				cur.WriteByte(s[i])
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		t.Fatalf("unterminated quote in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// expand replaces placeholders, longest name first.
func tdxExpand(word string, ph map[string]string) string {
	best := ""
	for k := range ph {
		if strings.HasPrefix(word, k) && len(k) > len(best) {
			best = k
		}
	}
	if best == "" {
		return word
	}
	return ph[best] + word[len(best):]
}

// tdxSelect picks a vector's value out of the JSON output.
func tdxSelect(t *testing.T, out []byte, sel string) string {
	t.Helper()
	var v struct {
		MRTD   string    `json:"mrtd"`
		RTMRs  []*string `json:"rtmrs"`
		Events []struct {
			Kind   string `json:"kind"`
			Digest string `json:"digest"`
		} `json:"events"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	switch {
	case sel == "mrtd":
		return v.MRTD
	case strings.HasPrefix(sel, "rtmr") && len(sel) == 5:
		i := int(sel[4] - '0')
		if i < 0 || i >= len(v.RTMRs) || v.RTMRs[i] == nil {
			return "null"
		}
		return *v.RTMRs[i]
	case strings.HasPrefix(sel, "event:"):
		for _, e := range v.Events {
			if e.Kind == strings.TrimPrefix(sel, "event:") {
				return e.Digest
			}
		}
		return "no such event"
	}
	t.Fatalf("unknown select %q", sel)
	return ""
}

// TestTDXVectors runs every row of ../shared/vectors/tdx.tsv through the
// CLI in process.
func TestTDXVectors(t *testing.T) {
	f, err := os.Open(filepath.Join(tdxShared, "vectors", "tdx.tsv"))
	if err != nil {
		t.Skipf("vectors: %v", err)
	}
	defer f.Close()
	ph := tdxPlaceholders()
	sc := bufio.NewScanner(f)
	var header []string
	rows := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		cols := strings.Split(line, "\t")
		if header == nil {
			header = cols
			continue
		}
		row := map[string]string{}
		for i, h := range header {
			if i < len(cols) {
				row[h] = cols[i]
			}
		}
		rows++
		t.Run(row["id"], func(t *testing.T) {
			args := tdxSplitWords(t, row["args"])
			for i, a := range args {
				args[i] = tdxExpand(a, ph)
				if strings.Contains(a, "$") {
					if _, err := os.Stat(args[i]); err != nil {
						t.Skipf("fixture for %s: %v", a, err)
					}
				}
			}
			want := strings.TrimSpace(row["expected"])
			sel := row["select"]
			if want != "ERROR" && sel != "" {
				args = append(args, "--output", "json")
			}
			var stdout, stderr bytes.Buffer
			err := run(args, &stdout, &stderr)
			if want == "ERROR" {
				if err == nil {
					t.Fatalf("measure %s succeeded with %q, want an error", row["args"], stdout.String())
				}
				if stdout.Len() != 0 {
					t.Errorf("measure %s printed %q on stdout, want nothing", row["args"], stdout.String())
				}
				var msg bytes.Buffer
				exitCode(err, &msg)
				if strings.Count(msg.String(), "\n") != 1 {
					t.Errorf("error message %q is not one line", msg.String())
				}
				return
			}
			if err != nil {
				t.Fatalf("measure %s: %v", row["args"], err)
			}
			got := strings.TrimSpace(stdout.String())
			if sel != "" {
				got = tdxSelect(t, stdout.Bytes(), sel)
			}
			if got != want {
				t.Errorf("measure %s [%s] = %s, want %s", row["args"], sel, got, want)
			}
		})
	}
	if rows == 0 {
		t.Fatal("no vectors in tdx.tsv")
	}
}

func runTDX(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(append([]string{"tdx"}, args...), &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func tdxWriteTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTDXErrors(t *testing.T) {
	good := tdxWriteTemp(t, "ovmf.fd", ovmftest.MustTDVFImage(ovmftest.TDVF{Size: 1 << 20, VarStore: true}))
	overlap := tdxWriteTemp(t, "overlap.fd", ovmftest.MustTDVFImage(ovmftest.TDVF{Size: 8192, Sections: []ovmf.TDVFSection{
		{RawDataSize: 8192, MemoryAddress: 0xffffe000, MemoryDataSize: 8192, Type: ovmf.TDVFSectionBFV, Attributes: ovmf.TDVFAttrMRExtend},
		{MemoryAddress: 0xfffff000, MemoryDataSize: 0x1000, Type: ovmf.TDVFSectionTempMem},
	}}))
	noTDX := tdxWriteTemp(t, "plain.fd", make([]byte, 8192))
	tests := []struct {
		name     string
		args     []string
		wantErr  string
		wantCode int
	}{
		{"no ovmf", nil, "--ovmf is required", exitUsage},
		{"bad page order", []string{"--ovmf", good, "--page-add-order", "three-pass"}, `page-add order "three-pass"`, exitUsage},
		{"bad qemu version", []string{"--ovmf", good, "--qemu-version", "ten"}, `QEMU version "ten"`, exitUsage},
		{"bad memory", []string{"--ovmf", good, "--memory", "2X"}, `--memory: memory size "2X"`, exitUsage},
		{"zero memory", []string{"--ovmf", good, "--memory", "0"}, `--memory: memory size "0"`, exitUsage},
		{"odd memory", []string{"--ovmf", good, "--memory", "5K"}, "not a multiple of 4 KiB", exitUsage},
		{"bad edk2", []string{"--ovmf", good, "--edk2-version", "yesterday"}, "edk2 release", exitUsage},
		{"bad secure boot support", []string{"--ovmf", good, "--secure-boot-support", "maybe"}, `--secure-boot-support "maybe"`, exitUsage},
		{"initrd without kernel", []string{"--ovmf", good, "--initrd", good}, "--initrd needs --kernel", exitUsage},
		{"bad output", []string{"--ovmf", good, "--output", "xml"}, `--output "xml"`, exitUsage},
		{"missing file", []string{"--ovmf", filepath.Join(t.TempDir(), "nope.fd")}, "no such file", exitUnreadable},
		{"no TDX metadata", []string{"--ovmf", noTDX}, "has no TDX metadata", exitError},
		{"overlapping sections", []string{"--ovmf", overlap}, "overlap", exitError},
		{"memory too small", []string{"--ovmf", good, "--memory", "4M"}, "more memory needed", exitError},
		{"kernel not a bzImage", []string{"--ovmf", good, "--kernel", good}, "not a Linux bzImage", exitError},
		{"acpi dir missing", []string{"--ovmf", good, "--acpi-tables", t.TempDir()}, "etc/table-loader", exitUnreadable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, _, err := runTDX(t, tc.args...)
			if err == nil {
				t.Fatalf("measure tdx %v succeeded, want error %q", tc.args, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("measure tdx %v error = %q, want it to contain %q", tc.args, err, tc.wantErr)
			}
			if stdout != "" {
				t.Errorf("measure tdx %v printed %q, want nothing", tc.args, stdout)
			}
			var msg bytes.Buffer
			code := exitCode(err, &msg)
			if code != tc.wantCode {
				t.Errorf("exit code = %d, want %d", code, tc.wantCode)
			}
		})
	}
}

// tdxACPIDir writes a linker/loader script allocating rsdp and tables, and
// the two blobs.
func tdxACPIDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var loader []byte
	for _, n := range []string{"etc/acpi/rsdp", "etc/acpi/tables"} {
		e := make([]byte, 128)
		binary.LittleEndian.PutUint32(e, 1)
		copy(e[4:], n)
		loader = append(loader, e...)
	}
	add := make([]byte, 128)
	binary.LittleEndian.PutUint32(add, 3) // ADD_CHECKSUM: not measured
	loader = append(loader, add...)
	files := map[string][]byte{"etc/table-loader": loader, "etc/acpi/rsdp": []byte("RSD PTR rsdp"), "etc/acpi/tables": []byte("DSDT tables")}
	for n, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestTDXJSON(t *testing.T) {
	fw := tdxWriteTemp(t, "ovmf.fd", ovmftest.MustTDVFImage(ovmftest.TDVF{Size: 1 << 20, VarStore: true}))
	// A 6.12 kernel: its EFI stub measures the command line into RTMR2.
	kernel := tdxWriteTemp(t, "bzImage", tdxtest.BzImage("6.12.0-tdxtest"))
	direct := []string{"--kernel", kernel, "--append", "console=ttyS0"}
	const noKernel = "no --kernel: without direct boot the boot variables in RTMR0 depend on the VM's devices and the UEFI Shell"
	tests := []struct {
		name        string
		args        []string
		wantNull    []int
		wantKinds   []string
		wantNoKinds []string
		wantReason0 string
	}{
		{"firmware only", []string{"--ovmf", fw, "--memory", "2G"}, []int{0, 1, 2}, []string{"td-hob", "cfv", "separator"}, []string{"acpi-loader", "kernel"}, "--acpi-tables"},
		{"acpi without edk2 release", []string{"--ovmf", fw, "--acpi-tables", tdxACPIDir(t)}, []int{0, 1, 2}, []string{"acpi-loader", "acpi-rsdp", "acpi-tables"}, nil, "edk2 release is not known"},
		{"acpi and edk2 202502", append([]string{"--ovmf", fw, "--acpi-tables", tdxACPIDir(t), "--edk2-version", "202502"}, direct...), nil,
			[]string{"td-hob", "cfv", "efi-variable", "separator", "acpi-loader", "boot-variable", "kernel", "efi-action", "cmdline"}, []string{"initrd"}, ""},
		{"acpi and edk2 202502 without kernel", []string{"--ovmf", fw, "--acpi-tables", tdxACPIDir(t), "--edk2-version", "202502"}, []int{0, 1, 2},
			[]string{"td-hob", "cfv", "efi-variable", "separator", "acpi-loader", "acpi-rsdp", "acpi-tables"}, []string{"kernel", "cmdline"}, noKernel},
		{"edk2 202505 is not modelled", append([]string{"--ovmf", fw, "--acpi-tables", tdxACPIDir(t), "--edk2-version", "edk2-stable202505"}, direct...), []int{0}, []string{"kernel", "cmdline"}, []string{"boot-variable"}, "edk2-stable202505"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, _, err := runTDX(t, append(tc.args, "--output", "json")...)
			if err != nil {
				t.Fatal(err)
			}
			var v struct {
				MRTD          string    `json:"mrtd"`
				RTMRs         []*string `json:"rtmrs"`
				NotComputable []struct {
					RTMR   int    `json:"rtmr"`
					Reason string `json:"reason"`
				} `json:"not_computable"`
				Events []struct {
					RTMR int    `json:"rtmr"`
					Kind string `json:"kind"`
				} `json:"events"`
			}
			if err := json.Unmarshal([]byte(stdout), &v); err != nil {
				t.Fatal(err)
			}
			if len(v.MRTD) != 96 || len(v.RTMRs) != 4 {
				t.Fatalf("mrtd %q, %d rtmrs, want 96 hex digits and 4", v.MRTD, len(v.RTMRs))
			}
			for i, r := range v.RTMRs {
				null := false
				for _, n := range tc.wantNull {
					null = null || n == i
				}
				if null != (r == nil) {
					t.Errorf("rtmrs[%d] = %v, want null %v", i, r, null)
				}
				if r == nil {
					found := false
					for _, nc := range v.NotComputable {
						found = found || nc.RTMR == i && nc.Reason != ""
					}
					if !found {
						t.Errorf("rtmrs[%d] is null without a reason", i)
					}
				}
			}
			if tc.wantReason0 != "" {
				found := false
				for _, nc := range v.NotComputable {
					found = found || nc.RTMR == 0 && strings.Contains(nc.Reason, tc.wantReason0)
				}
				if !found {
					t.Errorf("not_computable %+v, want RTMR0's reason to contain %q", v.NotComputable, tc.wantReason0)
				}
			}
			kinds := map[string]bool{}
			for _, e := range v.Events {
				kinds[e.Kind] = true
			}
			for _, k := range tc.wantKinds {
				if !kinds[k] {
					t.Errorf("no %s event in %v", k, kinds)
				}
			}
			for _, k := range tc.wantNoKinds {
				if kinds[k] {
					t.Errorf("unexpected %s event", k)
				}
			}
			hexOut, _, err := runTDX(t, tc.args...)
			if err != nil || strings.TrimSpace(hexOut) != v.MRTD {
				t.Errorf("hex output %q, %v, want the JSON mrtd %s", hexOut, err, v.MRTD)
			}
		})
	}
}

// TestTDXSplitImage checks that CODE with --vars measures like the combined
// image.
func TestTDXSplitImage(t *testing.T) {
	whole := ovmftest.MustTDVFImage(ovmftest.TDVF{Size: 1 << 20, Seed: 3})
	cfv := len(whole) / 8
	dir := t.TempDir()
	wholeP := filepath.Join(dir, "OVMF.fd")
	codeP := filepath.Join(dir, "OVMF_CODE.fd")
	varsP := filepath.Join(dir, "OVMF_VARS.fd")
	for p, b := range map[string][]byte{wholeP: whole, codeP: whole[cfv:], varsP: whole[:cfv]} {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, _, err := runTDX(t, "--ovmf", wholeP, "--memory", "1G", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := runTDX(t, "--ovmf", codeP, "--vars", varsP, "--memory", "1G", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	strip := func(s string) string { // inputs differ by file names only
		return s[:strings.Index(s, `"inputs"`)]
	}
	if strip(got) != strip(want) {
		t.Errorf("CODE+VARS = %s, want as the whole image %s", got, want)
	}
	_, _, err = runTDX(t, "--ovmf", codeP)
	if err == nil || !strings.Contains(err.Error(), "--vars") {
		t.Errorf("CODE alone: error %v, want one that says to pass --vars", err)
	}
}

// TestTDXImageInputs checks that the edk2 release and secure boot support
// come from the image unless a flag overrides them, and that inputs say so.
func TestTDXImageInputs(t *testing.T) {
	trixie := filepath.Join("..", "..", "testdata", "fixtures", "trixie-OVMF.fd")
	if _, err := os.Stat(trixie); err != nil {
		t.Skipf("fixture: %v", err)
	}
	acpi := tdxACPIDir(t)
	// A 6.12 kernel: RTMR1 holds its events, RTMR2 the command line its
	// EFI stub measures.
	kernel := tdxWriteTemp(t, "bzImage", tdxtest.BzImage("6.12.0-tdxtest"))
	direct := []string{"--kernel", kernel, "--append", "console=ttyS0"}
	tests := []struct {
		name           string
		args           []string
		wantRTMR0      bool
		wantEDK2       string
		wantEDK2Source string
		wantSB         string
		wantSBSource   string
	}{
		{"from the image", direct, true, "edk2-stable202502", "image: PcdFirmwareVersionString", "false", "image: "},
		{"release flag", slices.Concat(direct, []string{"--edk2-version", "202411"}), true, "edk2-stable202411", "flag", "false", "image: "},
		{"release flag 202505", slices.Concat(direct, []string{"--edk2-version", "2025.05"}), false, "edk2-stable202505", "flag", "false", "image: "},
		{"secure boot flag", slices.Concat(direct, []string{"--secure-boot-support", "yes"}), true, "edk2-stable202502", "image: ", "true", "flag"},
		{"no kernel", nil, false, "edk2-stable202502", "image: PcdFirmwareVersionString", "false", "image: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--ovmf", trixie, "--acpi-tables", acpi, "--output", "json"}, tc.args...)
			stdout, _, err := runTDX(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			var v struct {
				RTMRs         []*string `json:"rtmrs"`
				NotComputable []struct {
					RTMR   int    `json:"rtmr"`
					Reason string `json:"reason"`
				} `json:"not_computable"`
				Inputs struct {
					EDK2       string `json:"edk2_version"`
					EDK2Source string `json:"edk2_version_source"`
					SB         struct {
						Value  string `json:"value"`
						Source string `json:"source"`
					} `json:"secure_boot_support"`
					Shell struct {
						Value string `json:"value"`
					} `json:"uefi_shell"`
				} `json:"inputs"`
			}
			if err := json.Unmarshal([]byte(stdout), &v); err != nil {
				t.Fatal(err)
			}
			in := v.Inputs
			if (v.RTMRs[0] != nil) != tc.wantRTMR0 {
				t.Errorf("rtmrs[0] = %v, want set %v", v.RTMRs[0], tc.wantRTMR0)
			}
			withKernel := slices.Contains(tc.args, "--kernel")
			for _, i := range []int{1, 2} {
				if set := v.RTMRs[i] != nil && *v.RTMRs[i] != strings.Repeat("0", 96); set != withKernel {
					t.Errorf("rtmrs[%d] = %v, want set (not null, not zero) %v", i, v.RTMRs[i], withKernel)
				}
			}
			noKernelReason := false
			for _, nc := range v.NotComputable {
				noKernelReason = noKernelReason || nc.RTMR == 0 && strings.HasPrefix(nc.Reason, "no --kernel")
			}
			if noKernelReason == withKernel {
				t.Errorf("not_computable %+v: RTMR0 has a \"no --kernel\" reason %v, want %v", v.NotComputable, noKernelReason, !withKernel)
			}
			if in.EDK2 != tc.wantEDK2 || !strings.HasPrefix(in.EDK2Source, tc.wantEDK2Source) {
				t.Errorf("edk2_version = %q from %q, want %q from %q...", in.EDK2, in.EDK2Source, tc.wantEDK2, tc.wantEDK2Source)
			}
			if in.SB.Value != tc.wantSB || !strings.HasPrefix(in.SB.Source, tc.wantSBSource) {
				t.Errorf("secure_boot_support = %+v, want %q from %q...", in.SB, tc.wantSB, tc.wantSBSource)
			}
			if in.Shell.Value != "true" {
				t.Errorf("uefi_shell = %q, want true", in.Shell.Value)
			}
		})
	}
}
