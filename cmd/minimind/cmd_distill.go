package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/minimind-go/minimind/tokenizer"
	"github.com/minimind-go/minimind/train"
	"github.com/spf13/cobra"
)

// defaultTeacher is upstream train_distillation.py's teacher: the SFT
// model of teacher_hidden_size 768 with teacher_use_moe 1, in --out_dir.
const defaultTeacher = "full_sft_768_moe.pth"

func newDistillCommand(g *globalOptions) *cobra.Command {
	var opts TrainOptions
	cmd := &cobra.Command{
		Use:   "distill --data_path FILE --teacher MODEL [flags]",
		Short: "White-box knowledge distillation from a teacher on {\"conversations\"} JSONL",
		Long: `Distil a teacher model into the student on SFT data, as upstream MiniMind's
trainer/train_distillation.py: on the assistant replies (the positions SFT
trains on) the loss is
  alpha·CE + (1−alpha)·T²·KL(softmax(teacher/T) ‖ softmax(student/T))
with CE the mean cross-entropy against the data and the KL averaged over those
positions (kl_div batchmean); an MoE student's balance loss is added to the CE
term (weighted alpha). The teacher — any size, dense or MoE, with the same
tokenizer — only runs inference: no gradients, no optimizer state; its logits
are cut to the student's vocabulary.
The student starts from --init, default --out_dir/full_sft_{hidden}[_moe].pth;
the teacher is --teacher, default --out_dir/` + defaultTeacher + ` (upstream's
768-wide MoE teacher). A .pth teacher takes the head count and the fields its
shapes cannot tell from the architecture flags; an HF directory says them all.
Defaults as upstream: alpha 0.5, temperature 1.5, 6 epochs, batch 32, lr 5e-6,
max_seq_len 340. Log lines carry the CE and distill (T²·KL) parts; so can
metrics.jsonl: distill = (loss − alpha·(ce + aux))/(1 − alpha).
Writes full_dist_{hidden}[_moe].pth (upstream's save_weight full_dist).
--resume needs the same --teacher.

Examples:
  minimind distill --data_path dataset/sft_t2t_mini.jsonl --teacher out/full_sft_768_moe.pth
  minimind distill --data_path sft.jsonl --init out/full_sft_512.pth --teacher ./MiniMind2 --alpha 0.3 --temperature 2` + trainExamples,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Mode = train.StageDistill
			opts.flags = flagValues(cmd.Flags())
			opts.explicit = explicitArch(cmd.Flags())
			return runDistill(cmd.Context(), opts, g, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	opts.AddFlags(cmd.Flags(), train.StageDistill)
	f := cmd.Flags()
	d := train.DefaultDistill()
	f.StringVar(&opts.Distill.Teacher, "teacher", "", "the teacher `MODEL` (HF directory or .pth; default --out_dir/"+defaultTeacher+")")
	f.Float64Var(&opts.Distill.Loss.Alpha, "alpha", d.Alpha, "weight of the CE term: loss = alpha·CE + (1−alpha)·T²·KL")
	f.Float64Var(&opts.Distill.Loss.Temperature, "temperature", d.Temperature, "distillation temperature T of both softmaxes (upstream recommends 1.0-2.0)")
	return cmd
}

// runDistill checks the distillation flags and the teacher's tokenizer,
// then trains as the other stages.
func runDistill(ctx context.Context, opts TrainOptions, g *globalOptions, out, errOut io.Writer) error {
	if err := opts.Distill.Loss.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if opts.Distill.Teacher == "" {
		opts.Distill.Teacher = filepath.Join(opts.OutDir, defaultTeacher)
		if _, err := os.Stat(opts.Distill.Teacher); err != nil {
			return fmt.Errorf("%w: no --teacher given, and upstream's default teacher %s is not there: pass --teacher MODEL", errUsage, opts.Distill.Teacher)
		}
	}
	if _, err := os.Stat(opts.Distill.Teacher); err != nil {
		return fmt.Errorf("%w: --teacher: %v", errUsage, err)
	}
	// The student's tokenizer as trainStage finds it: --tokenizer, or the
	// one saved with --init or in --out_dir.
	from := opts.Init
	if from == "" {
		from = opts.OutDir
	}
	tok, tokSource, err := modelTokenizer(opts.Tokenizer, from)
	if err != nil {
		return err
	}
	if err := sameTokenizer(tok, tokSource, opts.Distill.Teacher); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return runTrain(ctx, opts, g, out, errOut)
}

// sameTokenizer refuses a teacher saved with a tokenizer that gives the
// student's ids other tokens: its logits would score other words. The
// teacher's may be larger (its logits are cut); a teacher without a saved
// tokenizer is checked on its vocabulary size only (train.NewDistiller).
func sameTokenizer(student *tokenizer.Tokenizer, studentSource, teacherPath string) error {
	dir := tokenizerDir(teacherPath)
	if dir == "" {
		return nil
	}
	teacher, err := loadTokenizer(dir)
	if err != nil {
		return fmt.Errorf("--teacher %s: its tokenizer: %w", teacherPath, err)
	}
	tp := filepath.Join(dir, "tokenizer.json")
	if teacher.VocabSize() < student.VocabSize() {
		return fmt.Errorf("--teacher %s: its tokenizer %s has %d tokens, the student's (%s) %d: distillation needs the same tokenizer",
			teacherPath, tp, teacher.VocabSize(), studentSource, student.VocabSize())
	}
	for id := range int32(student.VocabSize()) {
		if a, b := student.Token(id), teacher.Token(id); a != b {
			return fmt.Errorf("--teacher %s: its tokenizer %s has %q at id %d where the student's (%s) has %q: distillation needs the same tokenizer",
				teacherPath, tp, b, id, studentSource, a)
		}
	}
	return nil
}

// distillLogPart is a distillation step's loss parts in a log line, as
// upstream's "ce: … aux_loss: … distill: …".
func distillLogPart(s train.Step, d train.Distill, moe bool) string {
	part := fmt.Sprintf(" (ce %.4f distill %.4f", s.CE, d.StepKL(s))
	if moe {
		part += fmt.Sprintf(" aux %.4f", s.Aux)
	}
	return part + ")"
}
