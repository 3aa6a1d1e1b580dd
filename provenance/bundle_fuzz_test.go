package provenance

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"os"
	"testing"
)

// fuzzSigner is a fixed Ed25519 key, the same in every fuzz worker process,
// so that seeds signed with it verify wherever they are mutated.
func fuzzSigner(t testing.TB) *Signer {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	s, err := NewSigner(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// FuzzBundle parses and verifies arbitrary bundles, and checks that measure
// accepts nothing sigstore-go refuses: a bundle ParseBundle reads (without
// log entries or timestamps, which sigstore-go parses further and measure
// does not check) loads in sigstore-go, and one VerifyBundle accepts
// verifies in sigstore-go with the same key.
func FuzzBundle(f *testing.F) {
	ctx := context.Background()
	s := fuzzSigner(f)
	v, err := NewVerifier(s.Public())
	if err != nil {
		f.Fatal(err)
	}
	stmt, err := os.ReadFile("testdata/snp-sweep.json")
	if err != nil {
		f.Fatal(err)
	}
	b, err := SignBundle(ctx, stmt, s)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	publish, _ := publishBundle(f)
	f.Add(publish)
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle+json;version=0.2","verificationMaterial":{"certificate":{"rawBytes":"MAA="}},"dsseEnvelope":{"payload":"e30=","payloadType":"x","signatures":[{"sig":"AA=="}]}}`))
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{}},"messageSignature":{"signature":"AA=="}}`))
	tm := sigstoreKeyMaterial(f, s.Public(), crypto.Hash(0))
	f.Fuzz(func(t *testing.T, data []byte) {
		pb, perr := ParseBundle(data)
		_ = DetectFormat(data)
		if perr == nil && pb.TlogEntries == 0 && pb.Timestamps == 0 {
			if err := sigstoreLoad(data); err != nil {
				t.Fatalf("ParseBundle accepts a bundle sigstore-go refuses: %v", err)
			}
		}
		_, err := VerifyBundle(ctx, data, VerifyOptions{Keys: []*Verifier{v}})
		if err == nil {
			if perr != nil {
				t.Fatalf("VerifyBundle accepts what ParseBundle refuses: %v", perr)
			}
			if _, err := sigstoreVerify(tm, data, nil); err != nil {
				t.Fatalf("VerifyBundle accepts a bundle sigstore-go refuses: %v", err)
			}
		}
	})
}
