package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/measure-cc/measure/builders/firmware"
)

func newRecipesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "recipes",
		Short: "List and show the firmware recipes embedded in measure",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("recipes needs a subcommand: list, show")
		},
	}
	cmd.AddCommand(newRecipesListCmd(), newRecipesShowCmd())
	return cmd
}

func newRecipesShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Print an embedded recipe's YAML, to start a recipe of your own from",
		Example: `  measure recipes show amdsev > my-amdsev.yaml
  measure build ovmf --recipe my-amdsev.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := firmware.RecipeYAML(args[0])
			if errors.Is(err, firmware.ErrUnknownRecipe) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
}

type recipesListOptions struct {
	out outputOptions
}

func newRecipesListCmd() *cobra.Command {
	o := &recipesListOptions{out: outputOptions{allowed: []string{"text", "json"}}}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the embedded recipes",
		Example: `  measure recipes list
  measure recipes list --output json | jq '.[].name'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.out.validate(); err != nil {
				return err
			}
			rs, err := firmware.Recipes()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if o.out.format == "json" {
				b, err := json.MarshalIndent(rs, "", "  ")
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(w, "%s\n", b)
				return err
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tPLATFORM\tDESCRIPTION")
			for _, r := range rs {
				def := ""
				if r.Name == firmware.DefaultRecipe {
					def = " (default)"
				}
				fmt.Fprintf(tw, "%s%s\t%s\t%s\n", r.Name, def, r.Build.Platform, r.Description)
			}
			return tw.Flush()
		},
	}
	o.out.AddFlags(cmd.Flags())
	return cmd
}
