package firmware

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
	srcDir   = "/build/src"
	patchDir = "/build/patches"
)

// sourcePath is where source i is placed inside the sandbox.
func (r *Recipe) sourcePath(i int) string {
	return path.Join(srcDir, r.Sources[i].FileName())
}

// Env returns the environment the recipe adds to the sandbox's, sorted:
// SOURCE_DATE_EPOCH, PYTHONHASHSEED=0 (edk2's generated makefiles otherwise
// list files in hash order) and Build.Env.
func (r *Recipe) Env() []string {
	m := map[string]string{
		"SOURCE_DATE_EPOCH": fmt.Sprint(r.SourceDateEpoch),
		"PYTHONHASHSEED":    "0",
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

// BuildArgs returns edk2's build command line for the recipe with jobs
// threads (0 leaves build's default).
func (r *Recipe) BuildArgs(jobs int) []string {
	b := r.Build
	args := []string{"build"}
	for _, a := range b.Arch {
		args = append(args, "-a", a)
	}
	args = append(args, "-t", b.ToolChain, "-p", b.Platform, "-b", b.Target)
	if jobs > 0 {
		args = append(args, "-n", fmt.Sprint(jobs))
	}
	for _, d := range b.Defines {
		args = append(args, "-D", d)
	}
	for _, p := range b.PCDs {
		args = append(args, "--pcd", p)
	}
	return args
}

// Steps returns the steps the sandbox runs from Build.Dir: unpack (with
// the patches), then set up edk2 and build.
func (r *Recipe) Steps(jobs int) []engine.Step {
	var s []string
	for i, src := range r.Sources {
		dir := "."
		if src.Dir != "" {
			dir = src.Dir
			s = append(s, "mkdir -p "+run.Quote(dir))
		}
		s = append(s, fmt.Sprintf("tar -xf %s --no-same-owner --strip-components=%d -C %s",
			run.Quote(r.sourcePath(i)), src.Strip, run.Quote(dir)))
	}
	if ser := r.Patches.Series; ser != "" {
		s = append(s, fmt.Sprintf("sed -e 's/#.*//' -e '/^[[:space:]]*$/d' %s | while read -r p _; do echo \"patch $p\"; patch -p1 -s -N < %s/\"$p\"; done",
			run.Quote(ser), run.Quote(path.Dir(ser))))
	}
	for _, f := range r.Patches.Files {
		s = append(s, fmt.Sprintf("echo \"patch %s\"; patch -p1 -s -N < %s", f, run.Quote(path.Join(patchDir, f))))
	}
	unpack := strings.Join(s, "\n") + "\n"
	s = []string{". ./edksetup.sh"}
	s = append(s, r.Build.Setup...)
	q := make([]string, 0, 16)
	for _, a := range r.BuildArgs(jobs) {
		q = append(q, run.Quote(a))
	}
	s = append(s, strings.Join(q, " "))
	return []engine.Step{
		{Name: "unpack", Script: unpack, Prepare: true},
		{Name: "build", Script: strings.Join(s, "\n") + "\n"},
	}
}

// Script returns the steps' scripts as one, for reading.
func (r *Recipe) Script(jobs int) string {
	var s []string
	for _, st := range r.Steps(jobs) {
		s = append(s, "# "+st.Name+"\n"+st.Script)
	}
	return strings.Join(s, "")
}
