//go:build !measure_front

package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// keygen runs measure keygen into dir and returns the prefix.
func keygen(t *testing.T, dir, name, alg string) string {
	t.Helper()
	prefix := filepath.Join(dir, name)
	args := []string{"keygen", "--out", prefix}
	if alg != "" {
		args = append(args, "--alg", alg)
	}
	if _, stderr, code := runCLI(args...); code != 0 {
		t.Fatalf("keygen: exit %d: %s", code, stderr)
	}
	return prefix
}

func TestKeygen(t *testing.T) {
	for _, alg := range []string{"", "ed25519", "ecdsa-p256", "ecdsa-p384"} {
		t.Run("alg="+alg, func(t *testing.T) {
			prefix := filepath.Join(t.TempDir(), "ci")
			args := []string{"keygen", "--out", prefix}
			if alg != "" {
				args = append(args, "--alg", alg)
			}
			stdout, stderr, code := runCLI(args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			for path, want := range map[string]os.FileMode{prefix + ".key": 0o600, prefix + ".pub": 0o644} {
				st, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if got := st.Mode().Perm(); got != want {
					t.Errorf("%s: mode %#o, want %#o", path, got, want)
				}
			}
			priv, err := os.ReadFile(prefix + ".key")
			if err != nil {
				t.Fatal(err)
			}
			pub, err := os.ReadFile(prefix + ".pub")
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := pem.Decode(priv); b == nil || b.Type != "PRIVATE KEY" {
				t.Errorf("%s.key is not a PKCS #8 PEM private key", prefix)
			}
			// stdout is the key id alone: the sha256 of the public key DER.
			b, _ := pem.Decode(pub)
			if b == nil || b.Type != "PUBLIC KEY" {
				t.Fatalf("%s.pub is not a PKIX PEM public key", prefix)
			}
			sum := sha256.Sum256(b.Bytes)
			if want := hex.EncodeToString(sum[:]) + "\n"; stdout != want {
				t.Errorf("stdout %q, want the key id %q", stdout, want)
			}
			checkNoSecret(t, priv, stdout, stderr)
		})
	}
}

// checkNoSecret fails when any of outputs holds the private key or a part
// of its PEM body.
func checkNoSecret(t *testing.T, privPEM []byte, outputs ...string) {
	t.Helper()
	block, _ := pem.Decode(privPEM)
	body := strings.Split(strings.TrimSpace(string(privPEM)), "\n")
	for _, o := range outputs {
		if strings.Contains(o, "PRIVATE KEY-----") || strings.Contains(o, string(block.Bytes)) {
			t.Errorf("output holds the private key: %q", o)
		}
		for _, line := range body[1 : len(body)-1] {
			if len(line) >= 16 && strings.Contains(o, line[:16]) {
				t.Errorf("output holds part of the private key: %q", o)
			}
		}
	}
}

func TestKeygenErrors(t *testing.T) {
	dir := t.TempDir()
	existing := keygen(t, dir, "old", "")
	before, err := os.ReadFile(existing + ".key")
	if err != nil {
		t.Fatal(err)
	}
	pubOnly := filepath.Join(dir, "pubonly")
	if err := os.WriteFile(pubOnly+".pub", []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(t.TempDir(), "victim")
	planted := filepath.Join(dir, "planted")
	if err := os.Symlink(victim, planted+".key"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no out", []string{"keygen"}, exitUsage, "--out is required"},
		{"symlink planted at the key's name", []string{"keygen", "--out", planted}, exitError, "planted.key\" exists"},
		{"unknown alg", []string{"keygen", "--out", filepath.Join(dir, "x"), "--alg", "rsa"}, exitUsage, `key algorithm "rsa" is unknown`},
		{"arguments", []string{"keygen", "--out", filepath.Join(dir, "y"), "extra"}, exitUsage, "unknown command"},
		{"key exists", []string{"keygen", "--out", existing}, exitError, "exists; keygen does not overwrite"},
		{"public key exists", []string{"keygen", "--out", pubOnly}, exitError, "pubonly.pub\" exists"},
		{"no directory", []string{"keygen", "--out", filepath.Join(dir, "missing", "k")}, exitUnreadable, "no such file or directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(tc.args...)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tc.wantCode, tc.wantErr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
	after, err := os.ReadFile(existing + ".key")
	if err != nil || string(after) != string(before) {
		t.Errorf("keygen changed the existing key")
	}
	if _, err := os.Lstat(victim); !os.IsNotExist(err) {
		t.Errorf("keygen wrote through a planted symlink: %v", err)
	}
	if _, err := os.Lstat(planted + ".pub"); !os.IsNotExist(err) {
		t.Errorf("keygen wrote %s.pub although the key's name was taken: %v", planted, err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("keygen left a temporary file %s", e.Name())
		}
	}
	if _, err := os.Stat(pubOnly + ".key"); !os.IsNotExist(err) {
		t.Errorf("keygen left %s.key behind after failing on the public key: %v", pubOnly, err)
	}
}
