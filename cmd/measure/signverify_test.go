//go:build !measure_front

package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/measure-cc/measure/provenance"
)

// signFixture is a statement over the trixie firmware, three key pairs and
// envelopes signed with them.
type signFixture struct {
	dir                 string
	a, b, c             string // key prefixes: ed25519, ecdsa-p256, ecdsa-p384
	statement           string
	statementBytes      []byte
	envA, envAB         string
	outputs             []string // every stdout and stderr, to check for secrets
	privA, privB, privC []byte
}

func newSignFixture(t *testing.T) *signFixture {
	t.Helper()
	f := &signFixture{dir: t.TempDir()}
	f.a = keygen(t, f.dir, "a", "ed25519")
	f.b = keygen(t, f.dir, "b", "ecdsa-p256")
	f.c = keygen(t, f.dir, "c", "ecdsa-p384")
	for _, p := range []struct {
		prefix string
		dst    *[]byte
	}{{f.a, &f.privA}, {f.b, &f.privB}, {f.c, &f.privC}} {
		b, err := os.ReadFile(p.prefix + ".key")
		if err != nil {
			t.Fatal(err)
		}
		*p.dst = b
	}
	out := f.run(t, 0, "snp", "--ovmf", trixie, "--vcpus", "1-2", "--vcpu-type", "EPYC-Milan", "--output", "statement")
	f.statementBytes = []byte(out)
	f.statement = f.write(t, "refs.json", f.statementBytes)
	f.envA = f.write(t, "a.dsse.json", []byte(f.run(t, 0, "sign", "--key", f.a+".key", f.statement)))
	f.envAB = f.write(t, "ab.dsse.json", []byte(f.run(t, 0, "sign", "--key", f.a+".key", "--key", f.b+".key", f.statement)))
	return f
}

// run runs measure, checks the exit code and returns stdout.
func (f *signFixture) run(t *testing.T, wantCode int, args ...string) string {
	t.Helper()
	stdout, stderr, code := runCLI(args...)
	f.outputs = append(f.outputs, stdout, stderr)
	if code != wantCode {
		t.Fatalf("measure %s: exit %d, want %d: %s", strings.Join(args, " "), code, wantCode, stderr)
	}
	return stdout
}

func (f *signFixture) write(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(f.dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// editEnvelope rewrites the envelope at path through edit and returns the
// new file's path.
func (f *signFixture) editEnvelope(t *testing.T, path, name string, edit func(m map[string]any)) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return f.write(t, name, out)
}

func TestSignVerifyRoundTrip(t *testing.T) {
	f := newSignFixture(t)
	env, err := os.ReadFile(f.envA)
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
		Signatures  []struct {
			KeyID string `json:"keyid"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal(env, &e); err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(f.a + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	v, err := provenance.ParseVerifier(pub)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := v.KeyID(); len(e.Signatures) != 1 || e.Signatures[0].KeyID != id {
		t.Errorf("signatures %+v, want one by key %s", e.Signatures, id)
	}
	if e.PayloadType != "application/vnd.in-toto+json" {
		t.Errorf("payloadType %q", e.PayloadType)
	}
	if p, _ := base64.StdEncoding.DecodeString(e.Payload); !bytes.Equal(p, f.statementBytes) {
		t.Errorf("payload is not the statement byte for byte")
	}

	tests := []struct {
		name string
		args []string
	}{
		{"one key, artifact", []string{"verify", "--key", f.a + ".pub", "--artifact", trixie, f.envA}},
		{"one of two keys", []string{"verify", "--key", f.c + ".pub", "--key", f.a + ".pub", f.envA}},
		{"threshold 2 of 3", []string{"verify", "--key", f.a + ".pub", "--key", f.b + ".pub", "--key", f.c + ".pub", "--threshold", "2", f.envAB}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout := f.run(t, 0, tc.args...)
			if stdout != string(f.statementBytes) {
				t.Errorf("verify stdout is not the signed statement:\n%s", stdout)
			}
		})
	}
	checkNoSecret(t, f.privA, f.outputs...)
	checkNoSecret(t, f.privB, f.outputs...)
}

// TestVerifyFailures checks that each way a signed statement can be wrong
// gets its own exit code and message.
func TestVerifyFailures(t *testing.T) {
	f := newSignFixture(t)
	env, err := os.ReadFile(f.envA)
	if err != nil {
		t.Fatal(err)
	}
	truncated := f.write(t, "truncated.json", env[:len(env)/2])
	payloadType := f.editEnvelope(t, f.envA, "type.json", func(m map[string]any) { m["payloadType"] = "application/json" })
	tampered := f.editEnvelope(t, f.envA, "tampered.json", func(m map[string]any) {
		p := bytes.Replace(f.statementBytes, []byte(`"vcpus": 1`), []byte(`"vcpus": 3`), 1)
		m["payload"] = base64.StdEncoding.EncodeToString(p)
	})
	// A payload that is no valid statement, signed as sign would not.
	signer, err := provenance.ParseSigner(f.privA)
	if err != nil {
		t.Fatal(err)
	}
	invalid := f.editEnvelope(t, f.envA, "invalid.json", func(m map[string]any) {
		p := bytes.Replace(f.statementBytes, []byte(`"sev-snp"`), []byte(`"sev-xx"`), 1)
		sig, err := signer.Sign(context.Background(), provenance.PAE(provenance.PayloadType, p))
		if err != nil {
			t.Fatal(err)
		}
		m["payload"] = base64.StdEncoding.EncodeToString(p)
		m["signatures"].([]any)[0].(map[string]any)["sig"] = base64.StdEncoding.EncodeToString(sig)
	})
	other := f.write(t, "other.fd", []byte("not the firmware"))
	badStatement := f.write(t, "bad.json", bytes.Replace(f.statementBytes, []byte(`"sev-snp"`), []byte(`"sev-xx"`), 1))

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"truncated envelope", []string{"verify", "--key", f.a + ".pub", truncated}, exitMalformedEnvelope, "malformed DSSE envelope: unexpected EOF"},
		{"payload type", []string{"verify", "--key", f.a + ".pub", payloadType}, exitPayloadType, `wrong DSSE payload type: "application/json"`},
		{"tampered payload", []string{"verify", "--key", f.a + ".pub", tampered}, exitBadSignature, "the payload or the signature was altered"},
		{"wrong key", []string{"verify", "--key", f.b + ".pub", f.envA}, exitThreshold, "not enough valid signatures: 0 valid from the 1 given key(s), want 1"},
		{"below threshold", []string{"verify", "--key", f.a + ".pub", "--key", f.b + ".pub", "--threshold", "2", f.envA}, exitThreshold, "1 valid from the 2 given key(s), want 2"},
		{"invalid statement", []string{"verify", "--key", f.a + ".pub", invalid}, exitInvalidStatement, `invalid statement: reference values: platform "sev-xx"`},
		{"swapped artifact", []string{"verify", "--key", f.a + ".pub", "--artifact", other, f.envA}, exitSubjectMismatch, "artifact matches no subject"},
		{"sign an invalid statement", []string{"sign", "--key", f.a + ".key", badStatement}, exitInvalidStatement, `platform "sev-xx"`},
		{"sign with a public key", []string{"sign", "--key", f.a + ".pub", f.statement}, exitError, `PEM block "PUBLIC KEY", want "PRIVATE KEY"`},
		{"verify with a private key", []string{"verify", "--key", f.a + ".key", f.envA}, exitError, "is a private key, want the public key"},
		{"threshold above keys", []string{"verify", "--key", f.a + ".pub", "--threshold", "2", f.envA}, exitUsage, "--threshold 2, want 1 to 1"},
		{"threshold 0", []string{"verify", "--key", f.a + ".pub", "--threshold", "0", f.envA}, exitUsage, "--threshold 0"},
		{"verify without key", []string{"verify", f.envA}, exitUsage, "--key is required"},
		{"sign without key", []string{"sign", f.statement}, exitUsage, "--key is required"},
		{"sign without statement", []string{"sign", "--key", f.a + ".key"}, exitUsage, "accepts 1 arg"},
		{"missing envelope", []string{"verify", "--key", f.a + ".pub", filepath.Join(f.dir, "nope.json")}, exitUnreadable, "no such file"},
		{"artifact is a directory", []string{"verify", "--key", f.a + ".pub", "--artifact", f.dir, f.envA}, exitUnreadable, "is a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(tc.args...)
			f.outputs = append(f.outputs, stdout, stderr)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tc.wantCode, tc.wantErr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing on failure", stdout)
			}
		})
	}
	checkNoSecret(t, f.privA, f.outputs...)
}

func TestSignStdin(t *testing.T) {
	f := newSignFixture(t)
	root := newRootCmd()
	var stdout, stderr bytes.Buffer
	root.SetArgs([]string{"sign", "--key", f.a + ".key", "-"})
	root.SetIn(bytes.NewReader(f.statementBytes))
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	if err := root.Execute(); err != nil {
		t.Fatalf("sign -: %v", err)
	}
	env := f.write(t, "stdin.dsse.json", stdout.Bytes())
	if got := f.run(t, 0, "verify", "--key", f.a+".pub", env); got != string(f.statementBytes) {
		t.Errorf("verify of an envelope signed from stdin printed %q", got)
	}
}

func TestSignWarnsOnReadableKey(t *testing.T) {
	f := newSignFixture(t)
	if err := os.Chmod(f.a+".key", 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runCLI("sign", "--key", f.a+".key", f.statement)
	if code != 0 || !strings.Contains(stderr, "has mode 0644; others may read it") {
		t.Errorf("exit %d, stderr %q; want a warning about the mode", code, stderr)
	}
}

// TestOutputFile checks --output-file: the output lands whole, a symlink
// at the destination is replaced rather than followed, and a failed command
// leaves the file that was there.
func TestOutputFile(t *testing.T) {
	f := newSignFixture(t)
	victim := f.write(t, "victim", []byte("do not touch\n"))
	dst := filepath.Join(f.dir, "out.dsse.json")
	if err := os.Symlink(victim, dst); err != nil {
		t.Fatal(err)
	}
	if out := f.run(t, 0, "sign", "--key", f.a+".key", f.statement, "--output-file", dst); out != "" {
		t.Errorf("stdout = %q, want nothing with --output-file", out)
	}
	if b, _ := os.ReadFile(victim); string(b) != "do not touch\n" {
		t.Errorf("the symlink's target was written: %q", b)
	}
	if st, err := os.Lstat(dst); err != nil || !st.Mode().IsRegular() {
		t.Fatalf("%s is not a regular file: %v", dst, err)
	}
	env, _ := os.ReadFile(dst)
	f.run(t, 0, "verify", "--key", f.a+".pub", dst)

	// A signature that cannot be made (a key that does not exist) keeps the
	// old envelope.
	f.run(t, exitUnreadable, "sign", "--key", filepath.Join(f.dir, "missing.key"), f.statement, "--output-file", dst)
	if b, _ := os.ReadFile(dst); !bytes.Equal(b, env) {
		t.Errorf("a failed sign changed %s", dst)
	}
	// Measuring commands take it too.
	rec := filepath.Join(f.dir, "m.json")
	f.run(t, 0, "snp", "--ovmf", trixie, "--vcpus", "1", "--vcpu-type", "EPYC-Milan", "--output", "json", "--output-file", rec)
	var m []map[string]any
	if b, err := os.ReadFile(rec); err != nil || json.Unmarshal(b, &m) != nil || len(m) != 1 || m[0]["measurement"] == nil {
		t.Errorf("--output-file of snp: %s, %v", b, err)
	}
	left, _ := filepath.Glob(filepath.Join(f.dir, ".*.tmp-*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %q", left)
	}
}
