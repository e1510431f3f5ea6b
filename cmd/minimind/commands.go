package main

import "github.com/spf13/cobra"

// addCommands registers the subcommands; each lives in its own cmd_<name>.go.
func addCommands(root *cobra.Command, g *globalOptions) {
	root.AddCommand(
		newQuickstartCommand(g),
		newInitCommand(g),
		newInfoCommand(g),
		newConvertCommand(g),
		newPretrainCommand(g),
		newSFTCommand(g),
		newDPOCommand(g),
		newGRPOCommand(g),
		newPPOCommand(g),
		newDistillCommand(g),
		newTrainCommand(g),
		newLoRACommand(g),
		newGenerateCommand(g),
		newChatCommand(g),
		newEvalCommand(g),
		newServeCommand(g),
		newDashboardCommand(g),
		newBenchCommand(g),
		newDataCommand(g),
		newTokenizerCommand(g),
	)
	for _, c := range root.Commands() {
		requireSubcommand(c)
	}
}

// requireSubcommand makes a command group such as `data` (subcommands, no
// action of its own) answer an unknown subcommand with a usage error
// (exit 2) instead of cobra's default, its help and exit 0.
func requireSubcommand(c *cobra.Command) {
	if c.Runnable() || !c.HasSubCommands() {
		return
	}
	c.Args = cobra.ArbitraryArgs
	c.SuggestionsMinimumDistance = 2
	c.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return c.Help()
		}
		return unknownCommand(c, args[0])
	}
}
