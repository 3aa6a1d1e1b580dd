package run

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain-1.0/x=y", "plain-1.0/x=y"},
		{"", "''"},
		{"a b", "'a b'"},
		{`L"x\0"`, `'L"x\0"'`},
		{"it's", `'it'\''s'`},
	}
	for _, tc := range tests {
		if got := Quote(tc.in); got != tc.want {
			t.Errorf("Quote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestExec(t *testing.T) {
	var out bytes.Buffer
	// The environment is exactly Env: nothing of the caller's leaks in.
	t.Setenv("MEASURE_LEAK", "1")
	c := &Cmd{Args: []string{"/usr/bin/env"}, Env: []string{"A=b"}, Stdout: &out}
	if err := (Exec{}).Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "A=b\n" {
		t.Errorf("env output = %q, want %q", got, "A=b\n")
	}
	err := (Exec{}).Run(context.Background(), &Cmd{Args: []string{"/bin/sh", "-c", "exit 3"}})
	if err == nil || !strings.Contains(err.Error(), "running /bin/sh -c 'exit 3': exit status 3") {
		t.Errorf("Run(exit 3) error = %v, want the command and its status", err)
	}
	if err := (Exec{}).Run(context.Background(), &Cmd{}); err == nil {
		t.Errorf("Run(empty) succeeded")
	}
}
