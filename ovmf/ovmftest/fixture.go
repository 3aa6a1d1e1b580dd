package ovmftest

import (
	"os"
	"path/filepath"
	"testing"
)

// SharedFixture reads a file under the shared fixtures directory beside
// the module (../shared/fixtures from the module root, where the project's
// real Debian firmware and kernels are kept), skipping the test when it is
// absent: the tests run from any package directory.
func SharedFixture(t testing.TB, path ...string) []byte {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skipf("fixture %s: no module root above the test's directory", filepath.Join(path...))
		}
		dir = parent
	}
	name := filepath.Join(append([]string{dir, "..", "shared", "fixtures"}, path...)...)
	b, err := os.ReadFile(name)
	if err != nil {
		t.Skipf("fixture %s: %v", filepath.Join(path...), err)
	}
	return b
}
