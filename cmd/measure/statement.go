package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/pflag"
)

// statementOptions is --timestamp, which only --output statement uses.
type statementOptions struct {
	timestamp bool
	// now is the clock; nil means SOURCE_DATE_EPOCH when set, else the
	// system clock.
	now func() (time.Time, error)
}

func (o *statementOptions) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.timestamp, "timestamp", false, "with --output statement: record when the values were computed (from SOURCE_DATE_EPOCH when set)")
}

func (o *statementOptions) clock() (time.Time, error) {
	if o.now != nil {
		return o.now()
	}
	if s, ok := os.LookupEnv("SOURCE_DATE_EPOCH"); ok {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil || sec < 0 {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q, want seconds since 1970 as a decimal number", s)
		}
		return time.Unix(sec, 0), nil
	}
	return time.Now(), nil
}

// subject is a further subject of a statement: a file's name and its
// digests by algorithm.
type subject struct {
	name   string
	digest map[string]string
}
