package oci

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Size bounds on what Pull reads from a registry.
const (
	// MaxEnvelopeSize bounds a DSSE envelope.
	MaxEnvelopeSize = 16 << 20
	// MaxReferrers bounds how many referrers Pull examines.
	MaxReferrers = 1024
	// maxManifestSize bounds the manifests Pull parses (go-containerregistry
	// reads at most 100 MiB itself).
	maxManifestSize = 4 << 20
)

// emptyJSON is the OCI empty descriptor's content: artifacts without a
// config carry it (image-spec 1.1, "Guidance for an Empty Descriptor").
var emptyJSON = []byte("{}")

// Options says how to reach the registry. The zero value uses Docker's
// credential configuration (~/.docker/config.json and its helpers), HTTPS,
// and plain HTTP for loopback and private addresses as go-containerregistry
// does.
type Options struct {
	// Insecure allows plain HTTP to any registry.
	Insecure bool
	// Transport carries the requests; nil means http.DefaultTransport.
	Transport http.RoundTripper
	// Keychain finds credentials; nil means authn.DefaultKeychain.
	Keychain authn.Keychain
	// UserAgent is added to go-containerregistry's own.
	UserAgent string
}

func (o Options) nameOptions() []name.Option {
	if o.Insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

func (o Options) remoteOptions(ctx context.Context) []remote.Option {
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc)}
	if o.Transport != nil {
		opts = append(opts, remote.WithTransport(o.Transport))
	}
	if o.UserAgent != "" {
		opts = append(opts, remote.WithUserAgent(o.UserAgent))
	}
	return opts
}

// rawManifest is a manifest to put as is.
type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

// fetchBlob reads the blob desc names from repo, at most limit bytes, and
// checks its size and digest.
func fetchBlob(repo name.Repository, desc v1.Descriptor, limit int64, opts []remote.Option) ([]byte, error) {
	if desc.Size < 0 || desc.Size > limit {
		return nil, fmt.Errorf("%w: blob %s declares %d bytes, want at most %d", ErrMismatch, desc.Digest, desc.Size, limit)
	}
	l, err := remote.Layer(repo.Digest(desc.Digest.String()), opts...)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", desc.Digest, classify(err))
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	// go-containerregistry checks size and digest as it reads; check again
	// here so that a mismatch is reported as one whatever its wording.
	if int64(len(b)) != desc.Size {
		return nil, fmt.Errorf("%w: blob %s has %d bytes, want %d", ErrMismatch, desc.Digest, len(b), desc.Size)
	}
	if desc.Digest.Algorithm == "sha256" {
		if h := sha256Hash(b); h != desc.Digest {
			return nil, fmt.Errorf("%w: blob %s has digest %s", ErrMismatch, desc.Digest, h)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", desc.Digest, classify(err))
	}
	return b, nil
}

// sha256Hash is b's digest as OCI writes it.
func sha256Hash(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// classify marks go-containerregistry's digest and size checks, which it
// reports as plain errors, as ErrMismatch.
func classify(err error) error {
	if err == nil || errors.Is(err, ErrMismatch) {
		return err
	}
	s := err.Error()
	for _, p := range []string{"does not match requested digest", "does not match expected size", "error verifying"} {
		if strings.Contains(s, p) {
			return fmt.Errorf("%w: %w", ErrMismatch, err)
		}
	}
	return err
}
