//go:build integration

package guest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/measure-cc/measure/builders/run"
	"github.com/measure-cc/measure/ovmf"
	"github.com/measure-cc/measure/provenance"
)

// These tests read a `measure build guest` output directory, named by
// GUEST_DIR (scripts/guest-integration.sh builds one and runs them):
//
//	GUEST_DIR=out/a go test -tags integration -run Integration -v ./builders/guest
//
// BOOT_FIRMWARE, when set, is the firmware the boot test gives QEMU instead
// of GUEST_DIR/OVMF.fd. The AmdSevX64 image refuses -kernel blobs unless
// QEMU filled its SEV hashes table, which QEMU does only for an SEV guest,
// so without SEV hardware the boot test uses an OVMF without the blob
// verifier, such as Debian's (the debian-trixie firmware recipe's output).

func guestDir(t *testing.T) string {
	t.Helper()
	d := os.Getenv("GUEST_DIR")
	if d == "" {
		t.Skip("GUEST_DIR is not set")
	}
	return d
}

func TestIntegrationBoot(t *testing.T) {
	dir := guestDir(t)
	script, err := filepath.Abs("../../scripts/boot-guest.sh")
	if err != nil {
		t.Fatal(err)
	}
	args := []string{script, "-t", "300", "-o", filepath.Join(t.TempDir(), "serial.log")}
	if fw := os.Getenv("BOOT_FIRMWARE"); fw != "" {
		args = append(args, "-b", fw)
	}
	args = append(args, dir)
	var out bytes.Buffer
	t0 := time.Now()
	err = run.Exec{}.Run(context.Background(), &run.Cmd{
		Args: args, Env: []string{"PATH=" + os.Getenv("PATH")}, Stdout: &out, Stderr: &out,
	})
	t.Logf("boot-guest.sh in %s:\n%s", time.Since(t0).Round(100*time.Millisecond), out.String())
	if err != nil {
		t.Fatalf("no marker: %v", err)
	}
}

// TestIntegrationAmdSevRefusesUnverifiedBlobs boots the built AmdSevX64
// image itself under TCG: with no SEV there is no hashes table, its blob
// verifier refuses QEMU's kernel, and the firmware falls back to its
// embedded grub instead of running an unmeasured kernel.
func TestIntegrationAmdSevRefusesUnverifiedBlobs(t *testing.T) {
	dir := guestDir(t)
	fw, err := os.ReadFile(filepath.Join(dir, "OVMF.fd"))
	if err != nil {
		t.Fatal(err)
	}
	if img, err := ovmf.Parse(fw); err != nil || img.SEVHashTable() == nil {
		t.Skipf("OVMF.fd has no SEV hashes table (%v): not an AmdSevX64 image", err)
	}
	script, err := filepath.Abs("../../scripts/boot-guest.sh")
	if err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(t.TempDir(), "serial.log")
	var out bytes.Buffer
	err = run.Exec{}.Run(context.Background(), &run.Cmd{
		Args: []string{script, "-t", "120", "-o", log, dir}, Env: []string{"PATH=" + os.Getenv("PATH")}, Stdout: &out, Stderr: &out,
	})
	if err == nil {
		t.Fatalf("the AmdSevX64 image booted QEMU's kernel without SEV:\n%s", out.String())
	}
	serial, _ := os.ReadFile(log)
	if !bytes.Contains(serial, []byte(`starting Boot0001 "Grub Bootloader"`)) {
		t.Errorf("serial log lacks the fall-back to grub:\n%s", serial)
	}
	if bytes.Contains(serial, []byte("Linux version")) {
		t.Errorf("the kernel ran:\n%s", serial)
	}
}

// TestIntegrationDigestChanges: on the built files, one byte of the command
// line, the initrd or the kernel changes every SEV-SNP reference value; the
// unchanged files give the values of reference-values.json.
func TestIntegrationDigestChanges(t *testing.T) {
	dir := guestDir(t)
	read := func(name string) Blob {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return Blob{Name: name, Data: b}
	}
	r, err := LookupRecipe(DefaultRecipe)
	if err != nil {
		t.Fatal(err)
	}
	launches, err := r.Launches()
	if err != nil {
		t.Fatal(err)
	}
	base := Boot{Firmware: read(r.Firmware.Output), Kernel: read(r.Kernel.Output), Initrd: read(InitramfsName), Cmdline: string(read(CmdlineName).Data)}
	tool := provenance.Tool{Name: "measure", Version: "integration"}
	want, err := SNPReferenceValues(base, launches, tool)
	if err != nil {
		t.Fatal(err)
	}
	st, err := provenance.ParseStatement(read(ReferenceValuesName).Data)
	if err != nil {
		t.Fatal(err)
	}
	recorded, err := provenance.ReferenceValuesFromStatement(st)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range want.Values {
		if got := recorded.Values[i].Measurements[0].Digest["sha384"]; got != v.Measurements[0].Digest["sha384"] {
			t.Errorf("%+v: reference-values.json has %s, the files give %s", v.Configuration, got, v.Measurements[0].Digest["sha384"])
		}
	}
	flip := func(b Blob, i int) Blob {
		c := append([]byte(nil), b.Data...)
		c[i] ^= 1
		return Blob{Name: b.Name, Data: c}
	}
	tests := []struct {
		name   string
		change func(b *Boot)
	}{
		{"cmdline", func(b *Boot) { b.Cmdline = strings.Replace(b.Cmdline, "ttyS0", "ttyS1", 1) }},
		{"initrd", func(b *Boot) { b.Initrd = flip(b.Initrd, len(b.Initrd.Data)/2) }},
		{"kernel", func(b *Boot) { b.Kernel = flip(b.Kernel, len(b.Kernel.Data)-1) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := base
			tc.change(&b)
			got, err := SNPReferenceValues(b, launches, tool)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want.Values {
				w, g := want.Values[i].Measurements[0].Digest["sha384"], got.Values[i].Measurements[0].Digest["sha384"]
				if w == g {
					t.Errorf("%+v: digest %s did not change", got.Values[i].Configuration, g)
				}
			}
			t.Logf("%s: %s -> %s (%+v)", tc.name, want.Values[0].Measurements[0].Digest["sha384"][:16],
				got.Values[0].Measurements[0].Digest["sha384"][:16], got.Values[0].Configuration)
		})
	}
}
