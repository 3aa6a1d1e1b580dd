// Command release-provenance writes the SLSA provenance v1 of a measure
// release (an in-toto statement, as provenance.Marshal encodes it) for the
// binaries named on the command line. scripts/release runs it; it records
// the source commit, go.sum, the Go toolchain and the build flags, and no
// timestamps, so the same inputs give the same bytes.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/measure-cc/measure/provenance"
)

// Identifiers of the release build, documented in docs/oci.md.
const (
	buildType = "https://github.com/measure-cc/measure/scripts/release/v1"
	builderID = "https://github.com/measure-cc/measure/scripts/release"
	sourceURI = "git+https://github.com/measure-cc/measure"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "release-provenance: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("release-provenance", flag.ContinueOnError)
	version := fs.String("version", "", "the release's version (main.version)")
	commit := fs.String("commit", "", "the source commit (40 hex digits)")
	epoch := fs.String("source-date-epoch", "", "SOURCE_DATE_EPOCH of the build")
	ldflags := fs.String("ldflags", "", "the -ldflags given to go build")
	targets := fs.String("targets", "", "GOOS/GOARCH pairs built, space-separated")
	gosum := fs.String("gosum", "go.sum", "the go.sum the build resolved modules with")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *version == "" || len(*commit) != 40 || *epoch == "" || fs.NArg() == 0 {
		return errors.New("want -version, -commit (40 hex digits), -source-date-epoch and at least one binary")
	}
	st, err := statement(*version, *commit, *epoch, *ldflags, *targets, *gosum, fs.Args())
	if err != nil {
		return err
	}
	b, err := provenance.Marshal(st)
	if err != nil {
		return err
	}
	_, err = stdout.Write(b)
	return err
}

func statement(version, commit, epoch, ldflags, targets, gosum string, binaries []string) (*provenance.Statement, error) {
	sum, err := digestFile(gosum)
	if err != nil {
		return nil, err
	}
	var subjects []provenance.Subject
	for _, b := range binaries {
		d, err := digestFile(b)
		if err != nil {
			return nil, err
		}
		subjects = append(subjects, provenance.Subject{Name: filepath.Base(b), Digest: d})
	}
	return provenance.NewSLSAStatement(provenance.Build{
		BuildType: buildType,
		ExternalParameters: map[string]any{
			"source":          sourceURI,
			"revision":        commit,
			"version":         version,
			"targets":         strings.Fields(targets),
			"sourceDateEpoch": epoch,
		},
		InternalParameters: map[string]any{
			"package":   "./cmd/measure",
			"env":       []string{"CGO_ENABLED=0", "GOFLAGS=-mod=readonly", "GOTOOLCHAIN=local"},
			"buildArgs": []string{"-trimpath", "-buildvcs=false", "-ldflags", ldflags},
			// Per binary, the build tags added to buildArgs: the front
			// build and the full build of the same package.
			"tags": map[string]string{"measure-OS-ARCH": "measure_front", "measure-full-OS-ARCH": ""},
		},
		ResolvedDependencies: []provenance.Artifact{
			{URI: sourceURI + "@" + commit, Digest: map[string]string{"gitCommit": commit}},
			{Name: "go.sum", Digest: map[string]string{"sha256": sum["sha256"]}},
			{URI: "https://go.dev/dl/" + runtime.Version(), Name: "go-toolchain", Annotations: map[string]any{"version": runtime.Version()}},
		},
		BuilderID:      builderID,
		BuilderVersion: map[string]string{"go": runtime.Version()},
		Subjects:       subjects,
	})
}

func digestFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, err := provenance.Digests(f)
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", path, err)
	}
	return d, nil
}
