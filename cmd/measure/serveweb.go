//go:build !measure_front

package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/measure-cc/measure/web"
)

// serveWebOptions are serve-web's flags.
type serveWebOptions struct {
	dir  string
	port int
}

func newServeWebCmd() *cobra.Command {
	o := &serveWebOptions{}
	cmd := &cobra.Command{
		Use:   "serve-web [--dir DIR] [--port N]",
		Short: "Serve the browser verifier on 127.0.0.1",
		Long: `serve-web serves the browser verifier on 127.0.0.1 only and prints its URL.
The verifier is a static page with measure's own verification library
compiled to WebAssembly: open the URL, drop an SEV-SNP report or a TDX quote
with signed reference values, and the page gives the verdict measure compare
would, checking everything itself. Nothing is sent anywhere, the server
included: it only hands out the page's files.

The page's files come from --dir, a directory that scripts/build-web.sh
wrote (web/ of a checkout once it has run), or, in a measure built with
-tags measure_web after it ran, from the binary itself. Without either it
refuses: the WebAssembly module is built, not committed. It serves the
site's five files and nothing else, each only when it is a regular file
of --dir reached without a symbolic link, and answers only requests
addressed to 127.0.0.1, localhost or [::1] with its port, so that no other
site's page can reach it under a name that resolves to 127.0.0.1.

It serves until interrupted (Ctrl-C).`,
		Example: `  scripts/build-web.sh && measure serve-web --dir web
  scripts/build-web.sh && go build -tags measure_web ./cmd/measure && measure serve-web --port 8700`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd) },
	}
	cmd.Flags().StringVar(&o.dir, "dir", "", "directory of the built site (scripts/build-web.sh [DIR]); default: the site built into this binary with -tags measure_web")
	cmd.Flags().IntVar(&o.port, "port", 0, "port to listen on, on 127.0.0.1 (0: any free port)")
	return cmd
}

func (o *serveWebOptions) run(cmd *cobra.Command) error {
	if o.port < 0 || o.port > 65535 {
		return usagef("--port %d, want 0 to 65535", o.port)
	}
	site, name := web.Embedded, "this binary"
	if o.dir != "" {
		st, err := os.Stat(o.dir)
		if err != nil {
			return unreadable(err)
		}
		if !st.IsDir() {
			return usagef("--dir %q is not a directory", o.dir)
		}
		if site, err = web.DirFS(o.dir); err != nil {
			return unreadable(err)
		}
		name = o.dir
	}
	if site == nil {
		return usagef("this measure has no browser verifier built in: run scripts/build-web.sh, then measure serve-web --dir web (or build measure with -tags measure_web after it)")
	}
	if err := web.CheckSite(site); err != nil {
		if errors.Is(err, web.ErrNotBuilt) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, web.ErrLink) {
			return usagef("--dir %q: %v", o.dir, err)
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(o.port)))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: web.Handler(site), ReadHeaderTimeout: 10 * time.Second}
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		srv.Close()
	}()
	fmt.Fprintf(cmd.OutOrStdout(), "http://%s/\n", ln.Addr())
	fmt.Fprintf(cmd.ErrOrStderr(), "serving the browser verifier from %s on %s only; Ctrl-C stops it\n", name, ln.Addr())
	err = srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		<-stopped
		return nil
	}
	return err
}
