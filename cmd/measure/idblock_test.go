//go:build !measure_front

package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/measure-cc/measure/measure/snp/idblock"
	"github.com/measure-cc/measure/verify/verifytest"
)

// sev-snp-measure's test of snp-create-id-block (tests/test_id_block.py
// @8f2b337): its keys, launch digest and expected lines; see
// verify/testdata/README.md.
const (
	idbTestdata        = "../../measure/snp/idblock/testdata/"
	idbIDKey           = idbTestdata + "sev-snp-measure-id_key_test.pem"
	idbAuthorKey       = idbTestdata + "sev-snp-measure-author_key_test.pem"
	idbLD              = "B28FLQi9p6cAqipgjFyqawDrrSl7bWioWkWx5mmlWLZ+G5HShKMB/mPE+gdQRn7t"
	idbBlock           = "B28FLQi9p6cAqipgjFyqawDrrSl7bWioWkWx5mmlWLZ+G5HShKMB/mPE+gdQRn7tAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAwAAAAAA"
	idbIDKeyHash       = "hwt+NcU/inLQ0yL3WrKvgmJ5Kq9leWIs5BMcPyHyied8sFYKXjuQs5MuZ07HCcsU"
	idbAuthorKeyDigest = "YxEcNLv8Ckk4+aAJvQdJgNgXIyPmFZnJ/TNtqGcySOHcqY0L6PdjdqEGuK/UwKBX"
)

func TestSNPCreateIDBlock(t *testing.T) {
	ldHex := func() string {
		b, _ := base64.StdEncoding.DecodeString(idbLD)
		return hex.EncodeToString(b)
	}()
	// sev-snp-measure's command line, its flag names, its output.
	stdout, stderr, code := runCLI("snp-create-id-block", "--measurement", idbLD, "--idkey", idbIDKey, "--authorkey", idbAuthorKey)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "id-block="+idbBlock+",id-auth=") ||
		lines[1] != "id_key_hash: "+idbIDKeyHash || lines[2] != "author_key: "+idbAuthorKeyDigest {
		t.Fatalf("output differs from sev-snp-measure's expected lines:\n%s", stdout)
	}
	checkAuth(t, idbBlock, strings.TrimPrefix(lines[0], "id-block="+idbBlock+",id-auth="), true)

	// JSON, with hex input, files and the QEMU options.
	dir := t.TempDir()
	blockFile, authFile := filepath.Join(dir, "id-block.bin"), filepath.Join(dir, "id-auth.bin")
	stdout, stderr, code = runCLI("snp-create-id-block", "--measurement", ldHex, "--id-key", idbIDKey, "--author-key", idbAuthorKey,
		"--id-block-file", blockFile, "--id-auth-file", authFile, "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	checkOutputLanguage(t, []byte(stdout))
	var res map[string]string
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	wantID, _ := base64.StdEncoding.DecodeString(idbIDKeyHash)
	wantAuthor, _ := base64.StdEncoding.DecodeString(idbAuthorKeyDigest)
	if res["id_block"] != idbBlock || res["id_key_digest"] != hex.EncodeToString(wantID) || res["author_key_digest"] != hex.EncodeToString(wantAuthor) {
		t.Errorf("JSON %v, want id_block %s and sev-snp-measure's digests in hex", res, idbBlock)
	}
	if want := "id-block=" + res["id_block"] + ",id-auth=" + res["id_auth"] + ",author-key-enabled=on"; res["qemu"] != want {
		t.Errorf("qemu = %q, want %q", res["qemu"], want)
	}
	if b, _ := os.ReadFile(blockFile); base64.StdEncoding.EncodeToString(b) != idbBlock {
		t.Errorf("--id-block-file holds %x", b)
	}
	if b, _ := os.ReadFile(authFile); base64.StdEncoding.EncodeToString(b) != res["id_auth"] {
		t.Errorf("--id-auth-file differs from id_auth")
	}
	checkAuth(t, idbBlock, res["id_auth"], true)

	// No author key, QEMU options.
	stdout, stderr, code = runCLI("snp-create-id-block", "--measurement", idbLD, "--id-key", idbIDKey, "--output", "qemu", "--guest-svn", "3", "--family-id", "01")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	opts := strings.TrimSpace(stdout)
	blockB64, authB64, ok := strings.Cut(strings.TrimPrefix(opts, "id-block="), ",id-auth=")
	if !ok || strings.Contains(opts, "author-key-enabled") || strings.Contains(opts, "\n") {
		t.Fatalf("--output qemu without an author key: %q", opts)
	}
	blk, _ := base64.StdEncoding.DecodeString(blockB64)
	if len(blk) != 96 || blk[0x30] != 1 || blk[0x54] != 3 {
		t.Errorf("ID block %x: want FAMILY_ID 01.. and GUEST_SVN 3", blk)
	}
	checkAuth(t, blockB64, authB64, false)

	runCases(t, []cliCase{
		{"no measurement", []string{"snp-create-id-block", "--id-key", idbIDKey}, exitUsage, nil, "--measurement is required"},
		{"no id key", []string{"snp-create-id-block", "--measurement", idbLD}, exitUsage, nil, "--id-key is required"},
		{"short measurement", []string{"snp-create-id-block", "--measurement", "abcd", "--id-key", idbIDKey}, exitUsage, nil, "want 48 bytes"},
		{"bad family id", []string{"snp-create-id-block", "--measurement", idbLD, "--id-key", idbIDKey, "--family-id", strings.Repeat("00", 17)}, exitUsage, nil, "--family-id"},
		{"missing key", []string{"snp-create-id-block", "--measurement", idbLD, "--id-key", filepath.Join(dir, "nope.pem")}, exitUnreadable, nil, "nope.pem"},
		{"not a key", []string{"snp-create-id-block", "--measurement", idbLD, "--id-key", blockFile}, exitError, nil, "--id-key"},
		{"P-256 key", []string{"snp-create-id-block", "--measurement", idbLD, "--id-key", keygen(t, dir, "p256", "ecdsa-p256") + ".key"}, exitError, nil, "want P-384"},
		{"keygen's P-384 key", []string{"snp-create-id-block", "--measurement", idbLD, "--id-key", keygen(t, dir, "p384", "ecdsa-p384") + ".key"}, 0, []string{"id-block=" + idbBlock}, ""},
	})
}

// checkAuth parses the base64 ID authentication information and verifies
// it against the base64 ID block.
func checkAuth(t *testing.T, blockB64, authB64 string, author bool) {
	t.Helper()
	rawBlock, err := base64.StdEncoding.DecodeString(blockB64)
	if err != nil {
		t.Fatal(err)
	}
	rawAuth, err := base64.StdEncoding.DecodeString(authB64)
	if err != nil || len(rawAuth) != 4096 {
		t.Fatalf("id-auth is %d bytes (%v), want 4096", len(rawAuth), err)
	}
	blk, err := idblock.ParseBlock(rawBlock)
	if err != nil {
		t.Fatal(err)
	}
	a, err := idblock.ParseAuth(rawAuth)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Verify(blk); err != nil {
		t.Errorf("id-auth does not verify: %v", err)
	}
	if a.HasAuthorKey() != author {
		t.Errorf("id-auth has an author key: %v, want %v", a.HasAuthorKey(), author)
	}
}

// TestCompareIDKey: compare's --id-key and --author-key against reports
// carrying sev-snp-measure's expected digests of its test keys.
func TestCompareIDKey(t *testing.T) {
	f := newCompareFixture(t)
	v4 := vectorDigest(t, "snp-qemu-bookworm-ovmf-v4-4")
	d := func(s string) [48]byte {
		b, _ := base64.StdEncoding.DecodeString(s)
		return [48]byte(b)
	}
	idD, authorD := d(idbIDKeyHash), d(idbAuthorKeyDigest)
	both := f.report(t, "both.bin", verifytest.Report{Measurement: v4, IDKeyDigest: idD, AuthorKeyDigest: authorD}, nil)
	idOnly := f.report(t, "id-only.bin", verifytest.Report{Measurement: v4, IDKeyDigest: idD}, nil)
	none := f.report(t, "none.bin", verifytest.Report{Measurement: v4}, nil)
	base := func(report string) []string {
		return []string{"compare", "--report", report, "--refs", f.refs, "--key", f.key + ".pub", "--no-hardware-check"}
	}
	other := keygen(t, f.dir, "other384", "ecdsa-p384")
	runCases(t, []cliCase{
		{"ID and author key", append(base(both), "--id-key", idbIDKey, "--author-key", idbAuthorKey), 0,
			[]string{"policy ok   ID_KEY_DIGEST = " + hex.EncodeToString(idD[:]), "policy ok   AUTHOR_KEY_DIGEST", "result: PASSED"}, ""},
		{"ID key only", append(base(idOnly), "--id-key", idbIDKey), 0, []string{"policy ok   ID_KEY_DIGEST"}, ""},
		{"another ID key", append(base(both), "--id-key", other+".pub"), exitPolicy, []string{"policy FAIL ID_KEY_DIGEST", "result: FAILED"}, "ID_KEY_DIGEST is " + hex.EncodeToString(idD[:])},
		{"no ID block", append(base(none), "--id-key", idbIDKey), exitPolicy, []string{"policy FAIL ID_KEY_DIGEST"}, "no ID block at launch"},
		{"author key not enabled", append(base(idOnly), "--id-key", idbIDKey, "--author-key", idbAuthorKey), exitPolicy, []string{"policy FAIL AUTHOR_KEY_DIGEST"}, "AUTHOR_KEY_EN 0"},
		{"id key on a quote", []string{"compare", "--quote", recordedQuote, "--refs", f.tdxRefs, "--key", f.key + ".pub", "--id-key", idbIDKey}, exitUsage, nil, "--id-key applies to SEV-SNP"},
		{"id key not a key", append(base(both), "--id-key", both), exitError, nil, "--id-key"},
	})
	if !bytes.Contains(mustRead(t, both), idD[:]) {
		t.Fatal("the synthetic report does not carry the digest")
	}
}
