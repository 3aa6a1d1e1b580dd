package nix

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/measure-cc/measure/builders/firmware"
)

var update = flag.Bool("update", false, "rewrite recipes.json from the embedded recipes")

// recipesJSON is recipes.json as it should be: every embedded recipe by name.
func recipesJSON(t *testing.T) []byte {
	t.Helper()
	rs, err := firmware.Recipes()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]*firmware.Recipe{}
	for _, r := range rs {
		m[r.Name] = r
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func TestRecipesJSONIsCurrent(t *testing.T) {
	want := recipesJSON(t)
	if *update {
		if err := os.WriteFile("recipes.json", want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("recipes.json")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("nix/recipes.json is stale; run go test ./nix -update (-want +got):\n%s", diff)
	}
}

func nixInstantiate(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("nix-instantiate")
	if err != nil {
		t.Skip("nix-instantiate not found (apt-get install nix-bin; .ci/run does): flake.nix not checked")
	}
	return p
}

func TestFlakeParses(t *testing.T) {
	bin := nixInstantiate(t)
	out, err := exec.Command(bin, "--parse", "../flake.nix").CombinedOutput()
	if err != nil {
		t.Fatalf("nix-instantiate --parse flake.nix: %v\n%s", err, out)
	}
}

// stub is a nixpkgs with just what flake.nix uses: builders return their
// arguments, packages are names, fetchurl records url and hash.
const stub = `
let
  pkg = name: { outPath = "stub-pkg:" + name; };
  pkgsFor = system: rec {
    go = pkg "go"; go_1_26 = pkg "go_1_26"; gopls = pkg "gopls"; openssl = pkg "openssl";
    nix = pkg "nix"; git = pkg "git"; distribution = pkg "distribution";
    nasm = pkg "nasm"; acpica-tools = pkg "acpica-tools"; bc = pkg "bc"; libuuid = pkg "libuuid"; util-linux = pkg "util-linux";
    python3 = pkg "python3" // { pkgs.setuptools = pkg "setuptools"; };
    fetchurl = a: { outPath = "stub-fetch:" + a.url + "#" + a.sha256; };
    stdenv.mkDerivation = a: a // { stubBuilder = "mkDerivation"; };
    mkShell = a: a // { stubBuilder = "mkShell"; };
    buildGoModule = {
      go = pkg "go";
      __functor = self: a: a // { stubBuilder = "buildGoModule"; goUsed = self.go; };
      override = o: buildGoModule // o;
    };
  };
  flake = import ../flake.nix;
  out = flake.outputs {
    self = { outPath = "/src"; shortRev = "test"; };
    nixpkgs.legacyPackages = { x86_64-linux = pkgsFor "x86_64-linux"; aarch64-linux = pkgsFor "aarch64-linux"; };
  };
in { inherit (flake) description inputs; inherit (out) packages devShells; }
`

type evaluated struct {
	Description string
	Inputs      map[string]map[string]string
	Packages    map[string]map[string]map[string]any
	DevShells   map[string]map[string]map[string]any
}

func evaluate(t *testing.T) *evaluated {
	t.Helper()
	bin := nixInstantiate(t)
	cmd := exec.Command(bin, "--eval", "--strict", "--json", "--readonly-mode", "-E", stub)
	cmd.Env = append(os.Environ(), "NIX_STATE_DIR="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("nix-instantiate --eval of flake.nix's outputs: %v\n%s", err, stderr.String())
	}
	var e evaluated
	if err := json.Unmarshal(out, &e); err != nil {
		t.Fatalf("nix-instantiate output: %v", err)
	}
	return &e
}

// shellQuote quotes as flake.nix's shellQuote does.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestFlakeFirmwareMatchesRecipes evaluates the flake offline and checks
// each firmware derivation against its embedded recipe.
func TestFlakeFirmwareMatchesRecipes(t *testing.T) {
	e := evaluate(t)
	rs, err := firmware.Recipes()
	if err != nil {
		t.Fatal(err)
	}
	pkgs := e.Packages["x86_64-linux"]
	for _, r := range rs {
		t.Run(r.Name, func(t *testing.T) {
			d, ok := pkgs["ovmf-"+r.Name]
			if !ok {
				t.Fatalf("packages.x86_64-linux has no ovmf-%s", r.Name)
			}
			str := func(k string) string { s, _ := d[k].(string); return s }
			var wantSrcs []any
			for _, s := range r.Sources {
				wantSrcs = append(wantSrcs, "stub-fetch:"+s.URL+"#"+s.SHA256)
			}
			if diff := cmp.Diff(wantSrcs, d["srcs"]); diff != "" {
				t.Errorf("srcs (-want +got):\n%s", diff)
			}
			if got, want := str("SOURCE_DATE_EPOCH"), fmt.Sprint(r.SourceDateEpoch); got != want {
				t.Errorf("SOURCE_DATE_EPOCH = %q, want %q", got, want)
			}
			if got := str("recipeBuildDir"); got != r.Build.Dir {
				t.Errorf("build directory %q, want %q", got, r.Build.Dir)
			}
			for k, v := range r.Build.Env {
				if got := str(k); got != v {
					t.Errorf("env %s = %q, want %q", k, got, v)
				}
			}
			var q []string
			for _, a := range r.BuildArgs(0) {
				q = append(q, shellQuote(a))
			}
			buildLine := strings.Join(q, " ") + ` -n "$NIX_BUILD_CORES"`
			if !strings.Contains(str("buildPhase"), "\n"+buildLine+"\n") {
				t.Errorf("buildPhase:\n%s\nwant the line\n%s", str("buildPhase"), buildLine)
			}
			for _, s := range r.Build.Setup {
				if !strings.Contains(str("buildPhase"), "\n"+s+"\n") {
					t.Errorf("buildPhase lacks setup command %q", s)
				}
			}
			if r.Patches.Series != "" && !strings.Contains(str("patchPhase"), shellQuote(r.Patches.Series)) {
				t.Errorf("patchPhase does not apply the series %s:\n%s", r.Patches.Series, str("patchPhase"))
			}
			var wantPatches []string
			for _, f := range r.Patches.Files {
				wantPatches = append(wantPatches, "/src/builders/firmware/recipes/patches/"+f)
				if _, err := firmware.EmbeddedPatch(f); err != nil {
					t.Errorf("patch %s: %v", f, err)
				}
			}
			gotPatches := regexp.MustCompile(`/src/builders/firmware/recipes/patches/\S+`).FindAllString(str("patchPhase"), -1)
			if diff := cmp.Diff(wantPatches, gotPatches); diff != "" {
				t.Errorf("patch files (-want +got):\n%s", diff)
			}
			for _, o := range r.Outputs {
				if want := fmt.Sprintf(`cp %s "$out"/%s`, shellQuote(o.From), shellQuote(o.Name)); !strings.Contains(str("installPhase"), want) {
					t.Errorf("installPhase lacks %q", want)
				}
			}
			// The phases are bash.
			script := strings.Join([]string{str("unpackPhase"), str("patchPhase"), str("buildPhase"), str("installPhase")}, "\n")
			cmd := exec.Command("bash", "-n")
			cmd.Stdin = strings.NewReader(script)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("bash -n on the phases: %v\n%s\n%s", err, out, script)
			}
		})
	}
	var names []string
	for n := range pkgs {
		if strings.HasPrefix(n, "ovmf-") {
			names = append(names, n)
		}
	}
	if len(names) != len(rs) {
		t.Errorf("firmware packages %v, want one per recipe (%d)", names, len(rs))
	}
}

func TestFlakeMeasureAndShell(t *testing.T) {
	e := evaluate(t)
	if e.Inputs["nixpkgs"]["url"] == "" {
		t.Errorf("inputs.nixpkgs.url is empty")
	}
	for _, system := range []string{"x86_64-linux", "aarch64-linux"} {
		m := e.Packages[system]["measure"]
		if m == nil {
			t.Fatalf("packages.%s.measure is missing", system)
		}
		got := map[string]any{
			"builder": m["stubBuilder"], "go": m["goUsed"], "subPackages": m["subPackages"],
			"ldflags": m["ldflags"], "env": m["env"], "version": m["version"],
		}
		want := map[string]any{
			"builder": "buildGoModule", "go": "stub-pkg:go_1_26", "subPackages": []any{"cmd/measure"},
			"ldflags": []any{"-buildid=", "-X main.version=0.0.0-test"}, "env": map[string]any{"CGO_ENABLED": "0"},
			"version": "0.0.0-test",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("packages.%s.measure (-want +got):\n%s", system, diff)
		}
		if e.Packages[system]["default"]["pname"] != "measure" {
			t.Errorf("packages.%s.default is not measure", system)
		}
		sh := e.DevShells[system]["default"]
		if sh["stubBuilder"] != "mkShell" || !strings.Contains(fmt.Sprint(sh["packages"]), "stub-pkg:go_1_26") {
			t.Errorf("devShells.%s.default = %v, want a mkShell with Go", system, sh)
		}
	}
}
