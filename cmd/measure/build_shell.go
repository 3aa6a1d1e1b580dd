//go:build !measure_front

package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/measure-cc/measure/builders/engine"
	"github.com/measure-cc/measure/builders/firmware"
)

type buildShellOptions struct {
	recipe string
	build  sandboxBuildOptions
}

func newBuildShellCmd(env *buildEnv) *cobra.Command {
	o := &buildShellOptions{}
	cmd := &cobra.Command{
		Use:   "shell [-- CMD ARGS...]",
		Short: "Run a command (or a shell) in exactly the sandbox a build step of a recipe gets",
		Long: `Run CMD, or an interactive bash without one, in the sandbox a step of the
recipe gets: the same toolchain root (read-only), work tree at /build with
the recipe's sources unpacked and patched (its prepare steps run first), the
same environment, user namespace, capabilities (none), network (none) and
mounts. It is what a recipe author uses to debug a build that does not
reproduce, and what a reviewer uses to see the sandbox from inside.

--recipe takes an embedded firmware or kernel recipe, or a recipe file.
The work tree is removed afterwards unless --keep-work is given. The exit
status is CMD's.`,
		Example: `  measure build shell
  measure build shell --recipe cvm-minimal -- make ARCH=x86_64 -j2 bzImage
  measure build shell -- sh -c 'id; cat /proc/self/status | grep -E "Cap|NoNewPrivs"; ls /dev'
  measure build shell --keep-work --recipe amdsev`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, env, args)
		},
	}
	cmd.Flags().StringVar(&o.recipe, "recipe", firmware.DefaultRecipe, "embedded firmware or kernel recipe name, or a recipe YAML file")
	o.build.AddFlags(cmd.Flags())
	return cmd
}

// job returns the engine job of --recipe: a firmware recipe, else a kernel
// recipe.
func (o *buildShellOptions) job() (*engine.Job, error) {
	fo := recipeOptions{recipe: o.recipe}
	fr, ferr := fo.load()
	if ferr == nil {
		return fr.Job(o.build.jobs), nil
	}
	if isUnreadable(ferr) {
		return nil, ferr // a file that cannot be read is no recipe of either kind
	}
	ko := kernelRecipeOptions{recipe: o.recipe}
	kr, kerr := ko.load()
	if kerr == nil {
		return kr.Job(o.build.jobs), nil
	}
	if isRecipeFile(o.recipe) {
		return nil, fmt.Errorf("%q is neither a firmware recipe (%v) nor a kernel recipe (%v)", o.recipe, ferr, kerr)
	}
	return nil, usagef("--recipe %q: no embedded firmware or kernel recipe of that name (see `measure recipes list`)", o.recipe)
}

func (o *buildShellOptions) run(cmd *cobra.Command, env *buildEnv, args []string) error {
	if err := o.build.validate(); err != nil {
		return err
	}
	j, err := o.job()
	if err != nil {
		return err
	}
	e, err := o.build.engine(env, o.build.progress(cmd.ErrOrStderr()))
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	err = e.Shell(ctx, j, args, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
	var ee interface{ ExitCode() int }
	if errors.As(err, &ee) && ee.ExitCode() > 0 {
		return &commandExit{code: ee.ExitCode(), err: err}
	}
	return err
}
