//go:build !js

package provenance

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzLoadInTotoMetadata reads arbitrary files as link or layout metadata
// (in-toto-golang's LoadMetadata behind our size and file checks, then its
// validation): never a panic, and what loads is a link or a layout.
func FuzzLoadInTotoMetadata(f *testing.F) {
	for _, alg := range KeyAlgorithms {
		k := newTestKey(f, alg)
		_, b, err := SignLink(&Link{Name: "build-ovmf", Command: []string{"measure"},
			Materials: map[string]string{"src.tar": strings.Repeat("ab", 32)}, Products: map[string]string{"OVMF.fd": strings.Repeat("cd", 32)}}, k.signer)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		for _, env := range LayoutEnvelopes {
			l := &Layout{Steps: []LayoutStep{{Name: "build-ovmf", Functionaries: []*Verifier{k.verifier}, Threshold: 1,
				ExpectedMaterials: [][]string{{"ALLOW", "*"}}, ExpectedProducts: [][]string{{"MATCH", "x", "WITH", "PRODUCTS", "FROM", "y"}}}},
				Inspections: []LayoutInspection{{Name: "check", Run: []string{"true"}}},
				Expires:     time.Unix(2000000000, 0)}
			b, err := SignLayout(context.Background(), l, env, k.signer)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte(`{"signed":{"_type":"link"},"signatures":null}`))
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}`))
	// One file per fuzzing process, rewritten for each input: a
	// directory per input would cost more than the parse.
	p := filepath.Join(f.TempDir(), "m.link")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		md, err := LoadInTotoMetadata(p)
		if err != nil {
			return
		}
		switch {
		case md.Type == "link" && md.Link != nil:
		case md.Type == "layout" && md.Link == nil && !md.Expires.IsZero():
		default:
			t.Fatalf("LoadInTotoMetadata = %+v: neither a link nor a layout", md)
		}
		if len(md.KeyIDs) != len(md.md.Sigs()) {
			t.Fatalf("%d key ids for %d signatures", len(md.KeyIDs), len(md.md.Sigs()))
		}
	})
}
