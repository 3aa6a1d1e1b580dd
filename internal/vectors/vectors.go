// Package vectors reads the repository's known-answer vectors
// (testdata/vectors/*.tsv: virtee/sev-snp-measure's and other tools'
// digests) for tests in any package.
package vectors

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Dir is testdata/vectors of this repository, found from this file's
// place in the source tree, so that tests in any package reach it.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "vectors")
}

// SNPDigest returns the expected value of row id of snp.tsv.
func SNPDigest(id string) ([48]byte, error) {
	f, err := os.Open(filepath.Join(Dir(), "snp.tsv"))
	if err != nil {
		return [48]byte{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if cols[0] != id {
			continue
		}
		if len(cols) < 3 {
			return [48]byte{}, fmt.Errorf("vector %s: %d columns", id, len(cols))
		}
		b, err := hex.DecodeString(cols[2])
		if err != nil || len(b) != 48 {
			return [48]byte{}, fmt.Errorf("vector %s: %q is not a SEV-SNP digest", id, cols[2])
		}
		return [48]byte(b), nil
	}
	if err := sc.Err(); err != nil {
		return [48]byte{}, err
	}
	return [48]byte{}, fmt.Errorf("no vector %s in snp.tsv", id)
}
