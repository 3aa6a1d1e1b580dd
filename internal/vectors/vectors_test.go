package vectors

import (
	"encoding/hex"
	"testing"
)

func TestSNPDigest(t *testing.T) {
	d, err := SNPDigest("snp-qemu-trixie-ovmf-v4-4")
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(d[:]); got != "676826e902524799a067f7c43b3ab0101dce73a2506d41436dd2f8472fa208081f11f9e65ca5d2439785732a0bfd8339" {
		t.Errorf("snp-qemu-trixie-ovmf-v4-4 = %s", got)
	}
	if _, err := SNPDigest("no-such-row"); err == nil {
		t.Error("a missing row has a digest")
	}
}
