package kernel

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/measure-cc/measure/builders/engine"
	"github.com/measure-cc/measure/builders/run"
)

// In-sandbox locations of the inputs.
const (
	srcDir = "/build/src"
	// FragmentPath is where the config fragment is placed in the sandbox.
	FragmentPath = "/build/config-fragment"
)

// sourcePath is where the source file is placed inside the sandbox.
func (r *Recipe) sourcePath() string {
	return path.Join(srcDir, r.Source.FileName())
}

// Fragment returns the config fragment as the file merge_config.sh reads.
func (r *Recipe) Fragment() string {
	return strings.Join(r.Build.Config, "\n") + "\n"
}

// Env returns the environment the recipe adds to the sandbox's, sorted:
// SOURCE_DATE_EPOCH, the KBUILD_BUILD_* values that end up in the image's
// version string, KBUILD_BUILD_VERSION=1 (the "#1"; kbuild would count
// builds in the tree), KCFLAGS and KAFLAGS with a prefix map that removes
// the tree's path from what the compiler records, and Build.Env.
func (r *Recipe) Env() []string {
	prefixMap := "-ffile-prefix-map=" + r.Build.Dir + "/="
	m := map[string]string{
		"SOURCE_DATE_EPOCH":      fmt.Sprint(r.SourceDateEpoch),
		"KBUILD_BUILD_TIMESTAMP": r.Build.Timestamp,
		"KBUILD_BUILD_USER":      r.Build.User,
		"KBUILD_BUILD_HOST":      r.Build.Host,
		"KBUILD_BUILD_VERSION":   "1",
		"KCFLAGS":                prefixMap,
		"KAFLAGS":                prefixMap,
	}
	for k, v := range r.Build.Env {
		m[k] = v
	}
	env := make([]string, 0, len(m))
	for k, v := range m {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}

// MakeArgs returns the make command line that builds the image with jobs
// parallel jobs (0: one per CPU, from nproc). The output does not depend on
// it.
func (r *Recipe) MakeArgs(jobs int) []string {
	j := "-j$(nproc)"
	if jobs > 0 {
		j = fmt.Sprintf("-j%d", jobs)
	}
	return []string{"make", "ARCH=" + r.Build.Arch, j, r.Build.Target}
}

// Script returns the steps' scripts as one, for reading.
func (r *Recipe) Script(jobs int) string {
	var s []string
	for _, st := range r.Steps(jobs) {
		s = append(s, "# "+st.Name+"\n"+st.Script)
	}
	return strings.Join(s, "")
}

// Steps returns the steps the sandbox runs from Build.Dir: unpack,
// configure (base config, merge the fragment, olddefconfig, check that every
// fragment line holds), build.
func (r *Recipe) Steps(jobs int) []engine.Step {
	b := r.Build
	arch := "ARCH=" + b.Arch
	var s []string
	src := run.Quote(r.sourcePath())
	tarball := r.Source.FileName()
	if r.Source.Tarball != "" {
		tarball = r.Source.Tarball
	}
	untar := fmt.Sprintf("tar -x%sf - --no-same-owner --strip-components=%d", decompressFlag(tarball), r.Source.Strip)
	if t := r.Source.Tarball; t != "" {
		s = append(s, fmt.Sprintf("dpkg-deb --fsys-tarfile %s | tar -xOf - %s | %s", src, run.Quote("./"+t), untar))
	} else {
		s = append(s, fmt.Sprintf("%s < %s", untar, src))
	}
	unpack := strings.Join(s, "\n") + "\n"
	s = []string{
		"make " + arch + " " + b.BaseConfig,
		"scripts/kconfig/merge_config.sh -m .config " + FragmentPath,
		"make " + arch + " olddefconfig",
		"# every line of the fragment must hold after olddefconfig",
		"bad=0",
		"while IFS= read -r l; do",
		"  case \"$l\" in",
		"    '# CONFIG_'*' is not set') n=${l#'# '}; n=${n%' is not set'}",
		"      if grep -q \"^$n=\" .config; then echo \"config: want '$l', got '$(grep \"^$n=\" .config)'\"; bad=1; fi ;;",
		"    *) grep -qxF -- \"$l\" .config || { echo \"config: want '$l', got '$(grep \"^${l%%=*}=\" .config || echo unset)'\"; bad=1; } ;;",
		"  esac",
		"done < " + FragmentPath,
		"if [ $bad != 0 ]; then echo 'config: the fragment did not take; see above' >&2; exit 1; fi",
	}
	configure := strings.Join(s, "\n") + "\n"
	q := make([]string, 0, 4)
	for _, a := range r.MakeArgs(jobs) {
		if strings.HasPrefix(a, "-j$(") {
			q = append(q, a) // the shell expands $(nproc)
			continue
		}
		q = append(q, run.Quote(a))
	}
	return []engine.Step{
		{Name: "unpack", Script: unpack, Prepare: true},
		{Name: "configure", Script: configure, Prepare: true},
		{Name: "build", Script: strings.Join(q, " ") + "\n"},
	}
}

// decompressFlag is tar's flag for the compression a file name says: GNU tar
// does not guess it on a pipe.
func decompressFlag(name string) string {
	switch {
	case strings.HasSuffix(name, ".xz"):
		return "J"
	case strings.HasSuffix(name, ".gz"), strings.HasSuffix(name, ".tgz"):
		return "z"
	case strings.HasSuffix(name, ".bz2"):
		return "j"
	}
	return ""
}
