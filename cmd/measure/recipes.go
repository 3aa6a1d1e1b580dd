//go:build !measure_front

package main

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/measure-cc/measure/builders/firmware"
	"github.com/measure-cc/measure/builders/guest"
	"github.com/measure-cc/measure/builders/kernel"
)

// Recipe kinds: which build command takes the recipe.
const (
	kindFirmware = "firmware" // build ovmf
	kindKernel   = "kernel"   // build kernel
	kindGuest    = "guest"    // build guest
)

var recipeKinds = []string{kindFirmware, kindKernel, kindGuest}

// recipeEntry is one embedded recipe as recipes list prints it.
type recipeEntry struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Default bool   `json:"default"`
	// Platform is a firmware recipe's edk2 platform DSC.
	Platform    string `json:"platform,omitempty"`
	Description string `json:"description"`
}

// embeddedRecipes lists every embedded recipe of the kinds given (all
// when none), firmware first, then kernel, then guest, each sorted by name.
func embeddedRecipes(kinds ...string) ([]recipeEntry, error) {
	want := func(k string) bool { return len(kinds) == 0 || slices.Contains(kinds, k) }
	var out []recipeEntry
	if want(kindFirmware) {
		rs, err := firmware.Recipes()
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			out = append(out, recipeEntry{Name: r.Name, Kind: kindFirmware, Default: r.Name == firmware.DefaultRecipe, Platform: r.Build.Platform, Description: r.Description})
		}
	}
	if want(kindKernel) {
		rs, err := kernel.Recipes()
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			out = append(out, recipeEntry{Name: r.Name, Kind: kindKernel, Default: r.Name == kernel.DefaultRecipe, Description: r.Description})
		}
	}
	if want(kindGuest) {
		rs, err := guest.Recipes()
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			out = append(out, recipeEntry{Name: r.Name, Kind: kindGuest, Default: r.Name == guest.DefaultRecipe, Description: r.Description})
		}
	}
	return out, nil
}

// recipeYAML returns the YAML of the embedded recipe called name; kind,
// when not empty, says which builder's.
func recipeYAML(name, kind string) ([]byte, error) {
	all, err := embeddedRecipes()
	if err != nil {
		return nil, err
	}
	var found []recipeEntry
	var names []string
	for _, r := range all {
		if r.Name == name && (kind == "" || r.Kind == kind) {
			found = append(found, r)
		}
		if kind == "" || r.Kind == kind {
			names = append(names, r.Name)
		}
	}
	switch len(found) {
	case 0:
		what := "recipe"
		if kind != "" {
			what = kind + " recipe"
		}
		return nil, usagef("%s %q: no embedded recipe of that name (have %s)", what, name, strings.Join(names, ", "))
	case 1:
	default:
		return nil, usagef("recipe %q: a %s and a %s recipe have that name: give --kind", name, found[0].Kind, found[1].Kind)
	}
	switch found[0].Kind {
	case kindKernel:
		return kernel.RecipeYAML(name)
	case kindGuest:
		return guest.RecipeYAML(name)
	}
	return firmware.RecipeYAML(name)
}

func newRecipesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "recipes",
		Short: "List and show the firmware, kernel and guest recipes embedded in measure",
		Example: `  measure recipes list
  measure recipes show debian-trixie`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("recipes needs a subcommand: list, show")
		},
	}
	cmd.AddCommand(newRecipesListCmd(), newRecipesShowCmd())
	return cmd
}

type recipesShowOptions struct {
	kind string
}

func newRecipesShowCmd() *cobra.Command {
	o := &recipesShowOptions{}
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Print an embedded recipe's YAML, to start a recipe of your own from",
		Long: `show prints the YAML of the embedded firmware (build ovmf), kernel (build
kernel) or guest (build guest) recipe called NAME; recipes list names them.
Edited and saved as a .yaml file, it is what --recipe takes.`,
		Example: `  measure recipes show amdsev
  measure recipes show cvm-minimal --kind kernel
  measure recipes show minimal`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeRecipeArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.kind != "" && !slices.Contains(recipeKinds, o.kind) {
				return usagef("--kind %q is unknown, want one of %s", o.kind, strings.Join(recipeKinds, ", "))
			}
			b, err := recipeYAML(args[0], o.kind)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	cmd.Flags().StringVar(&o.kind, "kind", "", "the recipe's kind, when two kinds have a recipe of that name: "+strings.Join(recipeKinds, ", "))
	return cmd
}

type recipesListOptions struct {
	out  outputOptions
	kind string
}

func newRecipesListCmd() *cobra.Command {
	o := &recipesListOptions{out: outputOptions{allowed: []string{"text", "json"}}}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the embedded firmware, kernel and guest recipes",
		Example: `  measure recipes list
  measure recipes list --kind kernel
  measure recipes list --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.out.validate(); err != nil {
				return err
			}
			var kinds []string
			if o.kind != "" {
				if !slices.Contains(recipeKinds, o.kind) {
					return usagef("--kind %q is unknown, want one of %s", o.kind, strings.Join(recipeKinds, ", "))
				}
				kinds = []string{o.kind}
			}
			rs, err := embeddedRecipes(kinds...)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if o.out.format == "json" {
				return writeJSON(w, rs)
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tKIND\tPLATFORM\tDESCRIPTION")
			for _, r := range rs {
				name, platform := r.Name, r.Platform
				if r.Default {
					name += " (default)"
				}
				if platform == "" {
					platform = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, r.Kind, platform, r.Description)
			}
			return tw.Flush()
		},
	}
	o.out.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&o.kind, "kind", "", "list only recipes of this kind: "+strings.Join(recipeKinds, ", "))
	return cmd
}

// completeRecipeArg completes recipes show's NAME.
func completeRecipeArg(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var kinds []string
	if k, _ := cmd.Flags().GetString("kind"); k != "" {
		kinds = []string{k}
	}
	return recipeNames(kinds...), cobra.ShellCompDirectiveNoFileComp
}

// recipeNames are the names of the embedded recipes of kinds (all when
// none), for completion.
func recipeNames(kinds ...string) []string {
	rs, err := embeddedRecipes(kinds...)
	if err != nil {
		return nil
	}
	var out []string
	for _, r := range rs {
		if !slices.Contains(out, r.Name) {
			out = append(out, r.Name)
		}
	}
	return out
}
