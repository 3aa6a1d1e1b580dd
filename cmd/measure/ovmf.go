package main

import "github.com/spf13/cobra"

func newOVMFCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ovmf",
		Short: "Inspect firmware images",
	}
	return cmd
}
