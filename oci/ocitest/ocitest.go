// Package ocitest provides registries for tests: go-containerregistry's
// in-process registry (with or without the OCI 1.1 referrers API, with a
// hook to tamper with responses) and a real registry, Debian's
// docker-registry (CNCF distribution), started on loopback with its own
// storage and stopped at the end of the test.
package ocitest

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

// RegistryOptions configure NewRegistry.
type RegistryOptions struct {
	// Referrers enables the referrers API; without it clients fall back to
	// the referrers tag schema.
	Referrers bool
	// Wrap, when set, wraps the registry's handler: a test tampers with
	// requests or responses there.
	Wrap func(http.Handler) http.Handler
}

// NewRegistry starts go-containerregistry's in-process registry on
// loopback and returns its host:port. It stops when the test ends.
func NewRegistry(t testing.TB, o RegistryOptions) string {
	t.Helper()
	var h http.Handler = registry.New(
		registry.Logger(log.New(io.Discard, "", 0)),
		registry.WithReferrersSupport(o.Referrers),
	)
	if o.Wrap != nil {
		h = o.Wrap(h)
	}
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// DistributionBinaries are the names of CNCF distribution's registry
// program: Debian's docker-registry package, then upstream's (nixpkgs'
// distribution package, the flake's dev shell).
var DistributionBinaries = []string{"docker-registry", "registry"}

// Distribution is a running docker-registry.
type Distribution struct {
	// Host is its host:port on loopback.
	Host string
	// Root is its filesystem storage directory.
	Root string
	// Version is what the binary reports (docker-registry --version).
	Version string
}

// StartDistribution starts docker-registry on a free loopback port with
// filesystem storage in a temporary directory, waits until it accepts
// connections, and stops it when the test ends. It skips the test when the
// binary is absent.
func StartDistribution(t testing.TB) *Distribution {
	t.Helper()
	var bin string
	for _, n := range DistributionBinaries {
		if p, err := exec.LookPath(n); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skipf("none of %v found (apt-get install docker-registry; .ci/run does): the real-registry test needs one", DistributionBinaries)
	}
	v, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("%s --version: %v", bin, err)
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "storage")
	addr := freePort(t)
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
health:
  storagedriver:
    enabled: false
`, root, addr)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		logf.Close()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-done:
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("%s exited before serving: %v\n%s", bin, err, b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not accept connections on %s after 10s: %v", bin, addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &Distribution{Host: addr, Root: root, Version: strings.TrimSpace(string(v))}
}

// BlobPath is where the registry stores the blob with the given digest
// ("sha256:..."): a test overwrites it to simulate a replaced blob.
func (d *Distribution) BlobPath(digest string) string {
	alg, hex, _ := strings.Cut(digest, ":")
	return filepath.Join(d.Root, "docker", "registry", "v2", "blobs", alg, hex[:2], hex, "data")
}

// freePort returns a loopback address that was free a moment ago.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
