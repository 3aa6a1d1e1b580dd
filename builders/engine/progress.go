package engine

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Progress reports a build on stderr: one line per step (with and without a
// terminal), and while a step runs either a live line with the elapsed time
// and the log's last line (Terminal) or, every Heartbeat, a plain line with
// the same. A nil *Progress is silent.
type Progress struct {
	// W receives the lines.
	W io.Writer
	// Terminal says W is a terminal: the running step is one line redrawn
	// in place.
	Terminal bool
	// Heartbeat is the interval of plain lines while a step runs without a
	// terminal; 0 is one minute.
	Heartbeat time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time

	mu    sync.Mutex
	start time.Time
}

func (p *Progress) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Progress) elapsed() string {
	if p.start.IsZero() {
		p.start = p.now()
	}
	d := p.now().Sub(p.start).Round(time.Second)
	return fmt.Sprintf("%02d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}

// Linef prints one line, prefixed by the time since the first line.
func (p *Progress) Linef(format string, a ...any) {
	if p == nil || p.W == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.W, "[%s] %s\n", p.elapsed(), fmt.Sprintf(format, a...))
}

// Tail prints a failed step's last log lines.
func (p *Progress) Tail(lines []string) {
	if p == nil || p.W == nil || len(lines) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.W, "last %d lines of the log:\n", len(lines))
	for _, l := range lines {
		fmt.Fprintf(p.W, "  | %s\n", l)
	}
}

// Step reports a step that starts now; done, called with the step's error,
// ends its live line or heartbeat.
func (p *Progress) Step(name string, log *LogWriter) (done func(error)) {
	if p == nil || p.W == nil {
		return func(error) {}
	}
	p.Linef("step %s", name)
	t0 := p.now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		every := p.Heartbeat
		if p.Terminal {
			every = time.Second
		} else if every == 0 {
			every = time.Minute
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			line := log.LastLine()
			p.mu.Lock()
			if p.Terminal {
				s := fmt.Sprintf("[%s] %s: %s", p.elapsed(), name, line)
				if len(s) > 100 {
					s = s[:100]
				}
				fmt.Fprintf(p.W, "\r\x1b[K%s", s)
			} else {
				fmt.Fprintf(p.W, "[%s]   %s (%s): %s\n", p.elapsed(), name, p.now().Sub(t0).Round(time.Second), line)
			}
			p.mu.Unlock()
		}
	}()
	return func(err error) {
		close(stop)
		wg.Wait()
		if p.Terminal {
			p.mu.Lock()
			fmt.Fprint(p.W, "\r\x1b[K")
			p.mu.Unlock()
		}
		status := "done"
		switch {
		case errors.Is(err, ErrInterrupted):
			status = "interrupted"
		case err != nil:
			status = "failed"
		}
		p.Linef("step %s %s in %s", name, status, p.now().Sub(t0).Round(time.Second))
	}
}

// Write prints each complete line of b as a progress line, so that a
// Progress can stand where an io.Writer of lines is wanted.
func (p *Progress) Write(b []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if l != "" {
			p.Linef("%s", l)
		}
	}
	return len(b), nil
}
