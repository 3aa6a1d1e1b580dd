package verify_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/measure-cc/measure/measure/snp/idblock"
	"github.com/measure-cc/measure/verify"
	"github.com/measure-cc/measure/verify/verifytest"
)

// ID and author keys of sev-snp-measure's test (tests/keyfile@8f2b337) and
// the digests its test_id_block.py expects of them (id_key_hash,
// author_key); see testdata/README.md.
const (
	idKeyPEM        = "../measure/snp/idblock/testdata/sev-snp-measure-id_key_test.pem"
	authorKeyPEM    = "../measure/snp/idblock/testdata/sev-snp-measure-author_key_test.pem"
	idKeyDigest     = "hwt+NcU/inLQ0yL3WrKvgmJ5Kq9leWIs5BMcPyHyied8sFYKXjuQs5MuZ07HCcsU"
	authorKeyDigest = "YxEcNLv8Ckk4+aAJvQdJgNgXIyPmFZnJ/TNtqGcySOHcqY0L6PdjdqEGuK/UwKBX"
)

func digest48(t *testing.T, b64 string) [48]byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(b) != 48 {
		t.Fatalf("%q is not 48 bytes of base64", b64)
	}
	return [48]byte(b)
}

// pubPEM returns the PKIX public key of the private key in path.
func pubPEM(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	k, err := idblock.ParsePrivateKeyPEM(b)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func TestKeyDigestPEM(t *testing.T) {
	priv, err := os.ReadFile(idKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	want := digest48(t, idKeyDigest)
	for name, in := range map[string][]byte{"SEC 1 private key": priv, "PKIX public key": pubPEM(t, idKeyPEM)} {
		got, err := verify.KeyDigestPEM(in)
		if err != nil || got != want {
			t.Errorf("KeyDigestPEM(%s) = %x, %v, want %x (sev-snp-measure's id_key_hash)", name, got, err, want)
		}
	}
	if _, err := verify.KeyDigestPEM([]byte("not a key")); !errors.Is(err, idblock.ErrPEM) {
		t.Errorf("KeyDigestPEM(garbage) = %v, want idblock.ErrPEM", err)
	}
}

// TestIDKeyPolicy: reports signed by the test VCEK carrying sev-snp-measure's
// expected digests are checked against its keys.
func TestIDKeyPolicy(t *testing.T) {
	signer, err := verifytest.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	idD, authorD := digest48(t, idKeyDigest), digest48(t, authorKeyDigest)
	keyDigest := func(path string) *[48]byte {
		d, err := verify.KeyDigestPEM(pubPEM(t, path))
		if err != nil {
			t.Fatal(err)
		}
		return &d
	}
	idKey, authorKey := keyDigest(idKeyPEM), keyDigest(authorKeyPEM)
	tests := []struct {
		name       string
		report     verifytest.Report
		policy     verify.Policy
		wantChecks []string
		wantErr    string
	}{
		{"ID and author key", verifytest.Report{IDKeyDigest: idD, AuthorKeyDigest: authorD},
			verify.Policy{IDKeyDigest: idKey, AuthorKeyDigest: authorKey}, []string{"ID_KEY_DIGEST", "AUTHOR_KEY_DIGEST"}, ""},
		{"ID key only", verifytest.Report{IDKeyDigest: idD}, verify.Policy{IDKeyDigest: idKey}, []string{"ID_KEY_DIGEST"}, ""},
		{"no rule, no check", verifytest.Report{IDKeyDigest: idD}, verify.Policy{}, nil, ""},
		{"another ID key", verifytest.Report{IDKeyDigest: authorD}, verify.Policy{IDKeyDigest: idKey},
			nil, "ID_KEY_DIGEST is " + hexOf(authorD[:]) + ", want " + hexOf(idD[:])},
		{"no ID block at launch", verifytest.Report{}, verify.Policy{IDKeyDigest: idKey},
			nil, "(no ID block at launch)"},
		{"author key swapped in for the ID key", verifytest.Report{IDKeyDigest: idD, AuthorKeyDigest: authorD}, verify.Policy{IDKeyDigest: authorKey},
			nil, "ID_KEY_DIGEST is"},
		{"author key not enabled", verifytest.Report{IDKeyDigest: idD}, verify.Policy{IDKeyDigest: idKey, AuthorKeyDigest: authorKey},
			nil, "AUTHOR_KEY_EN 0"},
		{"another author key", verifytest.Report{IDKeyDigest: idD, AuthorKeyDigest: idD}, verify.Policy{AuthorKeyDigest: authorKey},
			nil, "AUTHOR_KEY_DIGEST is " + hexOf(idD[:])},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := signer.Sign(tc.report)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := verify.ParseSNPReport(raw)
			if err != nil {
				t.Fatal(err)
			}
			if ev.IDKeyDigest() != tc.report.IDKeyDigest || ev.AuthorKeyDigest() != tc.report.AuthorKeyDigest {
				t.Errorf("IDKeyDigest, AuthorKeyDigest = %x, %x, want %x, %x", ev.IDKeyDigest(), ev.AuthorKeyDigest(), tc.report.IDKeyDigest, tc.report.AuthorKeyDigest)
			}
			checks, err := verify.CheckPolicy(ev, tc.policy)
			if tc.wantErr != "" {
				if !errors.Is(err, verify.ErrPolicy) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("CheckPolicy = %v, want ErrPolicy containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("CheckPolicy: %v", err)
			}
			var names []string
			for _, c := range checks {
				if strings.Contains(c.Name, "KEY_DIGEST") {
					names = append(names, c.Name)
				}
			}
			if strings.Join(names, ",") != strings.Join(tc.wantChecks, ",") {
				t.Errorf("key checks %v, want %v", names, tc.wantChecks)
			}
		})
	}
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }
