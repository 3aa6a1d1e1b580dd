// Package arch_test keeps the dependency rules of STYLE.md: the measurement
// core is standard library only, each third-party library stays in the
// package that owns its concern, and code outside the core reaches the
// platforms only through the facade.
package arch_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/measure-cc/measure"

// deps returns the non-standard-library packages pkg imports, directly or not.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

func TestCoreIsStandardLibraryOnly(t *testing.T) {
	for _, pkg := range []string{"./ovmf", "./measure/..."} {
		for _, d := range deps(t, pkg) {
			if !strings.HasPrefix(d, module+"/ovmf") && !strings.HasPrefix(d, module+"/measure") {
				t.Errorf("%s depends on %s: the measurement core must use the standard library only", pkg, d)
			}
		}
	}
}

// TestLibrariesStayInPlace: a library may be imported only under the
// package prefixes listed for it.
func TestLibrariesStayInPlace(t *testing.T) {
	allowed := map[string][]string{
		"github.com/spf13/cobra":                 {module + "/cmd/"},
		"github.com/in-toto/":                    {module + "/provenance"},
		"github.com/secure-systems-lab/":         {module + "/provenance"},
		"github.com/sigstore/":                   {module + "/provenance"},
		"github.com/google/go-containerregistry": {module + "/builders", module + "/oci", module + "/distribute"},
		"github.com/u-root/":                     {module + "/builders/initramfs"},
		"github.com/google/go-sev-guest":         {module + "/verify"},
		"github.com/google/go-tdx-guest":         {module + "/verify"},
		"github.com/google/go-eventlog":          {module + "/verify"},
		"github.com/fxamacker/cbor":              {module + "/export"},
		"github.com/veraison/go-cose":            {module + "/export"},
	}
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg, imports := f[0], f[1:]
		for _, imp := range imports {
			for lib, where := range allowed {
				if !strings.HasPrefix(imp, lib) {
					continue
				}
				ok := false
				for _, w := range where {
					if strings.HasPrefix(pkg, w) {
						ok = true
					}
				}
				if !ok {
					t.Errorf("%s imports %s; only %v may", pkg, imp, where)
				}
			}
		}
	}
}

// facade is the measurement core's surface for code outside it: package
// measure (launch descriptions, one call, typed values) and the parsers of
// formats that callers read themselves. measure/snp and measure/tdx (and
// anything under them) are the platforms behind the facade.
var facade = []string{
	module + "/measure",
	module + "/measure/acpiloader",
	module + "/measure/authenticode",
	module + "/measure/bzimage",
}

// TestFacade: builders and oci, tests included, import nothing of the
// measurement core but the facade. (That the core never imports them back
// is TestCoreIsStandardLibraryOnly.)
func TestFacade(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}{{range .TestImports}} {{.}}{{end}}{{range .XTestImports}} {{.}}{{end}}`, "./builders/...", "./oci/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg, imports := f[0], f[1:]
		checked++
		for _, imp := range imports {
			if !strings.HasPrefix(imp, module+"/measure/") && imp != module+"/measure" {
				continue
			}
			ok := false
			for _, p := range facade {
				ok = ok || imp == p
			}
			if !ok {
				t.Errorf("%s imports %s; outside the core use the facade (%s)", pkg, imp, strings.Join(facade, ", "))
			}
		}
	}
	if checked == 0 {
		t.Fatal("go list found no package under builders/ or oci/")
	}
}
