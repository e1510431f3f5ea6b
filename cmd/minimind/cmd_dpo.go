package main

import (
	"fmt"

	"github.com/minimind-go/minimind/train"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newDPOCommand(g *globalOptions) *cobra.Command {
	var opts TrainOptions
	cmd := &cobra.Command{
		Use:   "dpo --data_path FILE [flags]",
		Short: "Direct preference optimisation on {\"chosen\", \"rejected\"} JSONL",
		Long: `Train on preference pairs, as upstream MiniMind's trainer/train_dpo.py: each
line holds a "chosen" and a "rejected" conversation; both are rendered with the
chat template and scored on their assistant replies (through <|im_end|>\n).
The policy and a frozen reference model both start from --init, default
--out_dir/full_sft_{hidden}[_moe].pth (also on --resume: the reference stays
the starting model). The loss is -logsigmoid(beta·((πc−πr)−(refc−refr))) + the
MoE balance loss, where π and ref are a reply's log-probabilities:
  --dpo_loss sum    summed over the reply (upstream HEAD; beta 0.15)
  --dpo_loss mean   averaged over the reply (the 2510 line; beta 0.1)
Logs and metrics.jsonl carry the implicit rewards beta·(π−ref) of chosen and
rejected replies, their margin and the reward accuracy (the fraction of pairs
whose chosen reward is the larger). Defaults as upstream: 1 epoch, 4 pairs per
batch (8 rows), lr 4e-8, max_seq_len 1024. Writes dpo_{hidden}[_moe].pth.

Examples:
  minimind dpo --data_path dataset/dpo.jsonl
  minimind dpo --data_path dpo.jsonl --init out/full_sft_512.pth --dpo_loss mean
  minimind train --mode dpo --data_path dpo.jsonl --learning_rate 1e-7` + trainExamples,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Mode = train.StageDPO
			opts.flags = flagValues(cmd.Flags())
			opts.explicit = explicitArch(cmd.Flags())
			return runTrain(cmd.Context(), opts, g, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	opts.AddFlags(cmd.Flags(), train.StageDPO)
	addDPOFlags(cmd.Flags(), &opts)
	return cmd
}

// addDPOFlags registers --dpo_loss and --beta.
func addDPOFlags(f *pflag.FlagSet, opts *TrainOptions) {
	f.StringVar(&opts.DPO.Loss, "dpo_loss", train.DPOSum, "DPO sequence score: sum (upstream HEAD) or mean (the 2510 line) of the reply's log-probs")
	f.Float64Var(&opts.DPO.Beta, "beta", 0, "DPO beta (default: 0.15 for --dpo_loss sum, 0.1 for mean)")
}

// applyDPODefaults gives `train --mode dpo` the dpo command's defaults
// for the flags not given.
func applyDPODefaults(f *pflag.FlagSet, opts *TrainOptions) {
	if opts.Mode != train.StageDPO {
		return
	}
	d := train.DefaultDPOOptions()
	set := func(name string, apply func()) {
		if !f.Changed(name) {
			apply()
		}
	}
	set("learning_rate", func() { opts.Train.LearningRate = d.LearningRate })
	set("batch_size", func() { opts.Train.BatchSize = d.BatchSize })
	set("max_seq_len", func() { opts.Train.MaxSeqLen = d.MaxSeqLen })
	set("epochs", func() { opts.Train.Epochs = d.Epochs })
	set("save_interval", func() { opts.Train.SaveInterval = d.SaveInterval })
	set("wandb_project", func() { opts.WandbProject = wandbProject(train.StageDPO) })
}

// dpoLogPart is a DPO step's rewards in a log line.
func dpoLogPart(s train.Step) string {
	return fmt.Sprintf(" reward acc %.3f chosen %.4f rejected %.4f margin %.4f", s.RewardAcc, s.RewardChosen, s.RewardRejected, s.RewardMargin)
}
