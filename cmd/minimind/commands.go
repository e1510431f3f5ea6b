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
		newTrainCommand(g),
		newGenerateCommand(g),
		newChatCommand(g),
		newEvalCommand(g),
		newServeCommand(g),
		newDashboardCommand(g),
		newBenchCommand(g),
		newDataCommand(g),
		newTokenizerCommand(g),
	)
}
