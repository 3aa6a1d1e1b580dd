package main

import (
	"encoding/json"
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
			return usagef("recipes needs a subcommand: list")
		},
	}
	cmd.AddCommand(newRecipesListCmd())
	return cmd
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
