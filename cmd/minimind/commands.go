package main

import "github.com/spf13/cobra"

// addCommands registers the subcommands; each lives in its own cmd_<name>.go.
func addCommands(root *cobra.Command, g *globalOptions) {
	_ = g
	root.AddCommand(newTokenizerCommand(g))
}
