package provenance

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// openssl returns the path of the openssl binary, skipping the test when
// there is none.
func openssl(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not found; the interoperability test needs it")
	}
	return p
}

func runOpenSSL(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}

// opensslVerifyArgs verifies sig over the file msg with pub, as OpenSSL does
// for each algorithm: Ed25519 over the raw message, ECDSA over its digest.
func opensslVerifyArgs(alg KeyAlgorithm, pub, msg, sig string) []string {
	args := []string{"pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", msg, "-sigfile", sig}
	switch alg {
	case ECDSAP256:
		args = append(args, "-digest", "sha256")
	case ECDSAP384:
		args = append(args, "-digest", "sha384")
	}
	return args
}

// TestOpenSSLVerifiesEnvelope checks each DSSE signature of `Sign` with an
// independent implementation: OpenSSL over the PAE bytes, which this test
// builds by hand from the envelope rather than with PAE().
func TestOpenSSLVerifiesEnvelope(t *testing.T) {
	bin := openssl(t)
	stmt := statementBytes(t)
	for _, alg := range KeyAlgorithms {
		t.Run(string(alg), func(t *testing.T) {
			dir := t.TempDir()
			k := newTestKey(t, alg)
			envJSON, err := Sign(context.Background(), stmt, k.signer)
			if err != nil {
				t.Fatal(err)
			}
			var env struct {
				PayloadType string `json:"payloadType"`
				Payload     string `json:"payload"`
				Signatures  []struct {
					KeyID string `json:"keyid"`
					Sig   string `json:"sig"`
				} `json:"signatures"`
			}
			if err := json.Unmarshal(envJSON, &env); err != nil {
				t.Fatal(err)
			}
			payload, err := base64.StdEncoding.DecodeString(env.Payload)
			if err != nil {
				t.Fatal(err)
			}
			sig, err := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
			if err != nil {
				t.Fatal(err)
			}
			// DSSE v1 PAE, written out from the specification.
			pae := "DSSEv1 " + itoa(len(env.PayloadType)) + " " + env.PayloadType + " " + itoa(len(payload)) + " " + string(payload)
			pub, msg, bad, sigPath := filepath.Join(dir, "pub.pem"), filepath.Join(dir, "pae.bin"), filepath.Join(dir, "bad.bin"), filepath.Join(dir, "sig.bin")
			for path, data := range map[string][]byte{
				pub:     k.pubPEM,
				msg:     []byte(pae),
				bad:     []byte(strings.Replace(pae, `"vcpus": 1`, `"vcpus": 2`, 1)),
				sigPath: sig,
			} {
				if err := os.WriteFile(path, data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if out, err := runOpenSSL(t, bin, opensslVerifyArgs(alg, pub, msg, sigPath)...); err != nil || !strings.Contains(out, "Signature Verified Successfully") {
				t.Errorf("openssl rejects the signature over the PAE: %v\n%s", err, out)
			}
			if out, err := runOpenSSL(t, bin, opensslVerifyArgs(alg, pub, bad, sigPath)...); err == nil {
				t.Errorf("openssl accepts the signature over a tampered PAE:\n%s", out)
			}

			// The key id is the sha256 of the DER OpenSSL derives from
			// the private key.
			keyFile := filepath.Join(dir, "key.pem")
			if err := os.WriteFile(keyFile, k.privPEM, 0o600); err != nil {
				t.Fatal(err)
			}
			der, err := exec.Command(bin, "pkey", "-in", keyFile, "-pubout", "-outform", "DER").Output()
			if err != nil {
				t.Fatalf("openssl pkey -pubout: %v", err)
			}
			sum := sha256.Sum256(der)
			if got, want := env.Signatures[0].KeyID, hex.EncodeToString(sum[:]); got != want {
				t.Errorf("keyid = %s, want sha256 of OpenSSL's DER %s", got, want)
			}
		})
	}
}

// TestVerifyOpenSSLSignature goes the other way: OpenSSL makes the key and
// signs the PAE; Verify accepts the envelope.
func TestVerifyOpenSSLSignature(t *testing.T) {
	bin := openssl(t)
	stmt := statementBytes(t)
	genArgs := map[KeyAlgorithm][]string{
		Ed25519:   {"genpkey", "-algorithm", "ed25519"},
		ECDSAP256: {"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"},
		ECDSAP384: {"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"},
	}
	for _, alg := range KeyAlgorithms {
		t.Run(string(alg), func(t *testing.T) {
			dir := t.TempDir()
			key, pub, msg, sig := filepath.Join(dir, "key.pem"), filepath.Join(dir, "pub.pem"), filepath.Join(dir, "pae.bin"), filepath.Join(dir, "sig.bin")
			if out, err := runOpenSSL(t, bin, append(genArgs[alg], "-out", key)...); err != nil {
				t.Fatalf("openssl genpkey: %v\n%s", err, out)
			}
			if out, err := runOpenSSL(t, bin, "pkey", "-in", key, "-pubout", "-out", pub); err != nil {
				t.Fatalf("openssl pkey: %v\n%s", err, out)
			}
			if err := os.WriteFile(msg, PAE(PayloadType, stmt), 0o600); err != nil {
				t.Fatal(err)
			}
			signArgs := []string{"pkeyutl", "-sign", "-inkey", key, "-rawin", "-in", msg, "-out", sig}
			switch alg {
			case ECDSAP256:
				signArgs = append(signArgs, "-digest", "sha256")
			case ECDSAP384:
				signArgs = append(signArgs, "-digest", "sha384")
			}
			if out, err := runOpenSSL(t, bin, signArgs...); err != nil {
				t.Fatalf("openssl pkeyutl -sign: %v\n%s", err, out)
			}
			pubPEM, err := os.ReadFile(pub)
			if err != nil {
				t.Fatal(err)
			}
			sigBytes, err := os.ReadFile(sig)
			if err != nil {
				t.Fatal(err)
			}
			v, err := ParseVerifier(pubPEM)
			if err != nil {
				t.Fatalf("ParseVerifier(OpenSSL's key): %v", err)
			}
			id, _ := v.KeyID()
			env, err := json.Marshal(map[string]any{
				"payloadType": PayloadType,
				"payload":     base64.StdEncoding.EncodeToString(stmt),
				"signatures":  []map[string]string{{"keyid": id, "sig": base64.StdEncoding.EncodeToString(sigBytes)}},
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Verify(context.Background(), env, VerifyOptions{Keys: []*Verifier{v}}); err != nil {
				t.Errorf("Verify(envelope signed by OpenSSL): %v", err)
			}
			// And our signer loads OpenSSL's PKCS #8 key.
			privPEM, err := os.ReadFile(key)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ParseSigner(privPEM); err != nil {
				t.Errorf("ParseSigner(OpenSSL's key): %v", err)
			}
		})
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
