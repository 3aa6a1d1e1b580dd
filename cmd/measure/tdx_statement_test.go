//go:build !measure_front

package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/measure-cc/measure/measure/tdx/tdxtest"
	"github.com/measure-cc/measure/verify/verifytest"
)

// tdxQuoteMRTDOffset is where a version 4 quote holds MRTD: after the
// 48-byte quote header, at byte 136 of the TD quote body (TEE_TCB_SVN,
// MRSEAM, MRSIGNERSEAM, SEAMATTRIBUTES, TDATTRIBUTES, XFAM before it; Intel
// TDX DCAP Quote Generation Library and Quote Verification Library, table
// "TD Quote Body").
const tdxQuoteMRTDOffset = 48 + 136

// tdxVector returns the expected value of row id of testdata/vectors/tdx.tsv
// (an independent implementation's value; see its README).
func tdxVector(t *testing.T, id string) string {
	t.Helper()
	f, err := os.Open("../../testdata/vectors/tdx.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if cols := strings.Split(sc.Text(), "\t"); len(cols) == 4 && cols[0] == id {
			return cols[3]
		}
	}
	t.Fatalf("no vector %s", id)
	return ""
}

// stmtMeasurements returns the registers and sha384 values of a statement's
// only configuration, in order.
func stmtMeasurements(t *testing.T, stmt string) (regs, values []string, subjects []string) {
	t.Helper()
	var st struct {
		Subject []struct {
			Name string `json:"name"`
		} `json:"subject"`
		Predicate struct {
			Platform string `json:"platform"`
			Values   []struct {
				Configuration map[string]any `json:"configuration"`
				Measurements  []struct {
					Register string            `json:"register"`
					Digest   map[string]string `json:"digest"`
				} `json:"measurements"`
			} `json:"referenceValues"`
		} `json:"predicate"`
	}
	if err := json.Unmarshal([]byte(stmt), &st); err != nil {
		t.Fatalf("statement: %v\n%s", err, stmt)
	}
	if st.Predicate.Platform != "tdx" || len(st.Predicate.Values) != 1 {
		t.Fatalf("statement: platform %q, %d configurations; want tdx, 1", st.Predicate.Platform, len(st.Predicate.Values))
	}
	for _, m := range st.Predicate.Values[0].Measurements {
		regs = append(regs, m.Register)
		values = append(values, m.Digest["sha384"])
	}
	for _, s := range st.Subject {
		subjects = append(subjects, s.Name)
	}
	return regs, values, subjects
}

// TestTDXStatement: the statement lists MRTD, an independent
// implementation's value for trixie's OVMF.fd, and exactly the RTMRs that
// --output json computes (never one it reports as null); every input file is
// a subject.
func TestTDXStatement(t *testing.T) {
	dir := t.TempDir()
	_, initrd := bootFiles(t, dir)
	kernel := writeIn(t, dir, "bzImage", tdxtest.BzImage("6.12.0-tdxtest"))
	acpi := tdxACPIDir(t)
	tests := []struct {
		name         string
		args         []string
		wantRegs     []string
		wantSubjects []string
	}{
		{"firmware only", []string{"--ovmf", trixie}, []string{"MRTD"}, []string{"trixie-OVMF.fd"}},
		{"two-pass, 2G", []string{"--ovmf", trixie, "--page-add-order", "two-pass", "--memory", "2G"}, []string{"MRTD"}, []string{"trixie-OVMF.fd"}},
		{"direct boot", []string{"--ovmf", trixie, "--kernel", kernel, "--initrd", initrd, "--append", "console=ttyS0"}, nil, []string{"trixie-OVMF.fd", "bzImage", "initrd.img"}},
		{"acpi tables, edk2 202502", []string{"--ovmf", trixie, "--acpi-tables", acpi, "--edk2-version", "202502"}, nil, []string{"trixie-OVMF.fd"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"tdx"}, tc.args...)
			stmt, stderr, code := runCLI(append(args, "--output", "statement")...)
			js, jserr, jscode := runCLI(append(args, "--output", "json")...)
			if code != 0 || jscode != 0 {
				t.Fatalf("exit %d: %s; json exit %d: %s", code, stderr, jscode, jserr)
			}
			var out struct {
				MRTD  string    `json:"mrtd"`
				RTMRs []*string `json:"rtmrs"`
			}
			if err := json.Unmarshal([]byte(js), &out); err != nil {
				t.Fatal(err)
			}
			wantRegs, wantValues := []string{"MRTD"}, []string{out.MRTD}
			// RTMR3 is the running guest's, never a reference value.
			for i, r := range out.RTMRs {
				if r != nil && i != 3 {
					wantRegs, wantValues = append(wantRegs, "RTMR"+string(rune('0'+i))), append(wantValues, *r)
				}
			}
			regs, values, subjects := stmtMeasurements(t, stmt)
			if !slices.Equal(regs, wantRegs) || !slices.Equal(values, wantValues) {
				t.Errorf("statement registers %v = %v, want %v = %v (the json output's non-null values)", regs, values, wantRegs, wantValues)
			}
			// The settings that decide the values are recorded.
			if tc.name == "two-pass, 2G" {
				for _, w := range []string{`"pageAddOrder": "two-pass"`, `"memory": "2G"`, `"qemuVersion": "`} {
					if !strings.Contains(stmt, w) {
						t.Errorf("statement lacks %s:\n%s", w, stmt)
					}
				}
			}
			if tc.wantRegs != nil && !slices.Equal(regs, tc.wantRegs) {
				t.Errorf("statement registers %v, want %v", regs, tc.wantRegs)
			}
			if !slices.Equal(subjects, tc.wantSubjects) {
				t.Errorf("subjects %v, want %v", subjects, tc.wantSubjects)
			}
			if tc.name == "direct boot" && !strings.Contains(stmt, `"value": "console=ttyS0"`) {
				t.Errorf("statement lacks the command line:\n%s", stmt)
			}
		})
	}
	t.Run("independent MRTD", func(t *testing.T) {
		stmt, stderr, code := runCLI("tdx", "--ovmf", trixie, "--page-add-order", "single-pass", "--output", "statement")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		_, values, _ := stmtMeasurements(t, stmt)
		if want := tdxVector(t, "tdx.mrtd.trixie.single"); values[0] != want {
			t.Errorf("statement MRTD = %s, want %s (tdx.tsv)", values[0], want)
		}
	})
	t.Run("golden", func(t *testing.T) {
		stmt, stderr, code := runCLI("tdx", "--ovmf", trixie, "--output", "statement")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		checkGolden(t, "statement-tdx.json", []byte(stmt))
	})
	t.Run("timestamp needs statement", func(t *testing.T) {
		_, stderr, code := runCLI("tdx", "--ovmf", trixie, "--timestamp")
		if code != exitUsage || !strings.Contains(stderr, "--timestamp needs --output statement") {
			t.Errorf("exit %d, stderr %q; want %d, --timestamp needs --output statement", code, stderr, exitUsage)
		}
	})
}

// TestTDXStatementSplit: with --vars the CODE and VARS files are subjects
// with their own digests (not the joined image's), and the predicate's
// firmware is the CODE file.
func TestTDXStatementSplit(t *testing.T) {
	const (
		code = "../../testdata/fixtures/trixie-OVMF_CODE_4M.fd"
		vars = "../../testdata/fixtures/trixie-OVMF_VARS_4M.fd"
	)
	stmt, stderr, rc := runCLI("tdx", "--ovmf", code, "--vars", vars, "--output", "statement")
	if rc != 0 {
		t.Fatalf("exit %d: %s", rc, stderr)
	}
	js, stderr, rc := runCLI("tdx", "--ovmf", code, "--vars", vars, "--output", "json")
	if rc != 0 {
		t.Fatalf("json: exit %d: %s", rc, stderr)
	}
	var out struct {
		MRTD string `json:"mrtd"`
	}
	if err := json.Unmarshal([]byte(js), &out); err != nil {
		t.Fatal(err)
	}
	_, values, subjects := stmtMeasurements(t, stmt)
	if values[0] != out.MRTD {
		t.Errorf("statement MRTD %s, json %s", values[0], out.MRTD)
	}
	if !slices.Equal(subjects, []string{"trixie-OVMF_CODE_4M.fd", "trixie-OVMF_VARS_4M.fd"}) {
		t.Errorf("subjects %v, want trixie-OVMF_CODE_4M.fd, trixie-OVMF_VARS_4M.fd", subjects)
	}
	for _, part := range []map[string]string{digestSet(mustRead(t, code)), digestSet(mustRead(t, vars))} {
		if !strings.Contains(stmt, part["sha384"]) || !strings.Contains(stmt, part["sha256"]) {
			t.Errorf("statement lacks a file's digests %v:\n%s", part, stmt)
		}
	}
}

// TestTDXStatementRoundTrip: measure tdx --output statement | measure sign |
// measure compare --quote gives MATCH on a quote re-signed by a test PKI
// whose MRTD is the statement's, and a mismatch (exit 1) on one whose MRTD
// is not.
func TestTDXStatementRoundTrip(t *testing.T) {
	dir := t.TempDir()
	key := keygen(t, dir, "ci", "")
	stmt, stderr, code := runCLI("tdx", "--ovmf", trixie, "--output", "statement")
	if code != 0 {
		t.Fatalf("tdx: exit %d: %s", code, stderr)
	}
	regs, values, _ := stmtMeasurements(t, stmt)
	env, stderr, code := runCLI("sign", "--key", key+".key", writeIn(t, dir, "refs.json", []byte(stmt)))
	if code != 0 {
		t.Fatalf("sign: exit %d: %s", code, stderr)
	}
	refs := writeIn(t, dir, "refs.dsse.json", []byte(env))

	tmpl := mustRead(t, recordedQuote)
	if got := hex.EncodeToString(tmpl[tdxQuoteMRTDOffset : tdxQuoteMRTDOffset+48]); got != recordedMRTD {
		t.Fatalf("template MRTD at %#x = %s, want %s", tdxQuoteMRTDOffset, got, recordedMRTD)
	}
	// The statement names MRTD alone (RTMR0 is null for this firmware,
	// RTMR3 is the running guest's).
	if !slices.Equal(regs, []string{"MRTD"}) {
		t.Fatalf("statement registers %v, want MRTD", regs)
	}
	pki, err := verifytest.NewTDXPKI(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	root := writeIn(t, dir, "test-root.pem", pki.RootPEM())
	// A quote's chain is verified to the root --certs holds (as in
	// TestCompareFetchTDX); --trust-root names it as trusted.
	certs := t.TempDir()
	writeIn(t, certs, "root.pem", pki.RootPEM())
	quoteWith := func(name, mrtd string) string {
		t.Helper()
		b, err := hex.DecodeString(mrtd)
		if err != nil || len(b) != 48 {
			t.Fatalf("MRTD %q", mrtd)
		}
		q := slices.Clone(tmpl)
		copy(q[tdxQuoteMRTDOffset:], b)
		signed, err := pki.Quote(q)
		if err != nil {
			t.Fatal(err)
		}
		return writeIn(t, dir, name, signed)
	}
	other := strings.Repeat("ab", 48)
	compare := func(quote string) []string {
		return []string{"compare", "--quote", quote, "--refs", refs, "--key", key + ".pub",
			"--certs", certs, "--trust-root", root, "--verify-time", "2024-01-11T00:00:00Z"}
	}
	tests := []struct {
		name     string
		quote    string
		wantCode int
		want     []string
	}{
		{"MRTD equal", quoteWith("match.dat", values[0]), 0,
			[]string{"MATCH: the tdx evidence matches", "MRTD: " + values[0], "a root supplied by the caller"}},
		{"MRTD differs", quoteWith("other.dat", other), exitNoMatch,
			[]string{"MISMATCH", "MRTD", other, values[0]}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(compare(tc.quote)...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d: %s\n%s", code, tc.wantCode, stderr, stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
		})
	}
}
