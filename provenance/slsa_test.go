package provenance

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func testBuild() Build {
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	end := start.Add(90 * time.Second)
	return Build{
		BuildType: "https://measure-cc.github.io/buildtypes/ovmf/v1",
		ExternalParameters: map[string]any{
			"platform": "OvmfPkg/AmdSev/AmdSevX64.dsc",
			"targets":  []string{"RELEASE"},
		},
		InternalParameters: map[string]any{"toolchain": "GCC5", "jobs": 2},
		ResolvedDependencies: []Artifact{
			{URI: "git+https://github.com/tianocore/edk2@refs/tags/edk2-stable202502", Digest: map[string]string{"gitCommit": "fbe0805b2091393406952e84724188f8c1941837"}},
			{Name: "gcc", Digest: map[string]string{"sha256": hexOf("11", 32)}, Annotations: map[string]any{"version": "12.2.0"}},
		},
		Byproducts: []Artifact{{Name: "build.log", Digest: map[string]string{"sha256": hexOf("22", 32)}}},
		BuilderID:  "https://github.com/measure-cc/measure/builders/ovmf",
		BuilderVersion: map[string]string{
			"measure": "v0.0.0-test",
		},
		InvocationID: "local-1",
		Subjects:     []Subject{firmwareSubject()},
		StartedOn:    &start,
		FinishedOn:   &end,
	}
}

func TestSLSAGolden(t *testing.T) {
	st, err := NewSLSAStatement(testBuild())
	if err != nil {
		t.Fatalf("NewSLSAStatement: %v", err)
	}
	got, err := Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "slsa.json", got)

	parsed, err := ParseStatement(got)
	if err != nil {
		t.Fatalf("ParseStatement: %v", err)
	}
	if err := ValidateStatement(parsed); err != nil {
		t.Errorf("ValidateStatement: %v", err)
	}
	p, err := SLSAFromStatement(parsed)
	if err != nil {
		t.Fatalf("SLSAFromStatement: %v", err)
	}
	if got, want := p.GetRunDetails().GetBuilder().GetId(), testBuild().BuilderID; got != want {
		t.Errorf("builder id = %q, want %q", got, want)
	}
	if got, want := len(p.GetBuildDefinition().GetResolvedDependencies()), 2; got != want {
		t.Errorf("resolved dependencies: %d, want %d", got, want)
	}
	if got, want := p.GetRunDetails().GetMetadata().GetFinishedOn().AsTime(), *testBuild().FinishedOn; !got.Equal(want) {
		t.Errorf("finishedOn = %v, want %v", got, want)
	}
}

func TestSLSAWithoutTimesIsReproducible(t *testing.T) {
	b := testBuild()
	b.StartedOn, b.FinishedOn, b.InvocationID = nil, nil, ""
	var first []byte
	for i := 0; i < 3; i++ {
		st, err := NewSLSAStatement(b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(got), "metadata") {
			t.Errorf("statement without times has metadata:\n%s", got)
		}
		if first == nil {
			first = got
		} else if diff := cmp.Diff(string(first), string(got)); diff != "" {
			t.Fatalf("build %d differs:\n%s", i, diff)
		}
	}
}

func TestNewSLSAStatementErrors(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(b *Build)
		wantErr string
	}{
		{name: "no build type", edit: func(b *Build) { b.BuildType = "" }, wantErr: "build type is empty"},
		{name: "no builder", edit: func(b *Build) { b.BuilderID = "" }, wantErr: "builder id is empty"},
		{name: "no external parameters", edit: func(b *Build) { b.ExternalParameters = nil }, wantErr: "external parameters are empty"},
		{name: "parameter not JSON", edit: func(b *Build) { b.ExternalParameters["f"] = func() {} }, wantErr: "external parameters"},
		{name: "empty dependency", edit: func(b *Build) { b.ResolvedDependencies = append(b.ResolvedDependencies, Artifact{}) }, wantErr: "resolved dependency 2"},
		{name: "bad byproduct digest", edit: func(b *Build) { b.Byproducts[0].Digest["sha256"] = "00" }, wantErr: "byproduct 0"},
		{name: "finished before started", edit: func(b *Build) { *b.FinishedOn = b.StartedOn.Add(-time.Second) }, wantErr: "before it started"},
		{name: "no subject", edit: func(b *Build) { b.Subjects = nil }, wantErr: "no subject"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := testBuild()
			tc.edit(&b)
			_, err := NewSLSAStatement(b)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("NewSLSAStatement() = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestSLSAFromStatementRejects(t *testing.T) {
	st, err := NewSLSAStatement(testBuild())
	if err != nil {
		t.Fatal(err)
	}
	good, err := Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{name: "unknown field", in: strings.Replace(string(good), `"buildType"`, `"colour": "blue", "buildType"`, 1), wantErr: "colour"},
		{name: "no builder id", in: strings.Replace(string(good), `"id": "https://github.com/measure-cc/measure/builders/ovmf"`, `"id": ""`, 1), wantErr: "builder.id required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := ParseStatement([]byte(tc.in))
			if err != nil {
				t.Fatalf("ParseStatement: %v", err)
			}
			_, err = SLSAFromStatement(st)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("SLSAFromStatement() = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}
