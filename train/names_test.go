package train_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/tokenizer"
	"github.com/minimind-go/minimind/train"
)

// TestRunNamesFromModel: a run started from a file is named after the
// model in the file, not the architecture flags (sft --init pretrain_32.pth
// with the default hidden 512 writes full_sft_32.pth), and a resume without
// the flags finds the only resume state of its stage.
func TestRunNamesFromModel(t *testing.T) {
	dir := t.TempDir()
	initPath := filepath.Join(t.TempDir(), "pretrain_32.pth")
	savePth(t, initPath, 2)
	var logs []string
	rc := runConfig(dir, train.StageSFT, &logs)
	rc.Model.HiddenSize, rc.Model.IntermediateSize = 64, 96 // the flags' defaults, not given
	rc.Init = initPath
	res := mustRun(t, rc)
	if want := filepath.Join(dir, "full_sft_32.pth"); res.Weights != want {
		t.Errorf("weights %s, want %s", res.Weights, want)
	}
	for _, f := range []string{"full_sft_32.pth", "full_sft_32_resume.safetensors"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "full_sft_64.pth")); err == nil {
		t.Error("full_sft_64.pth written: named from the flags")
	}

	// --resume --epochs 2 without the architecture flags finds
	// full_sft_32_resume.safetensors.
	rc = runConfig(dir, train.StageSFT, &logs)
	rc.Model.HiddenSize, rc.Model.IntermediateSize = 64, 96
	rc.Resume, rc.Options.Epochs, rc.AllowChangedSchedule = true, 2, true
	res = mustRun(t, rc)
	if res.Step != 3 || res.Model.HiddenSize != 32 {
		t.Errorf("resumed at step %d with hidden %d, want step 3 of the hidden-32 run", res.Step, res.Model.HiddenSize)
	}
}

// TestRunExplicitContradiction: an architecture flag the user gave that
// contradicts the --init file (or the resume state) is an error naming both.
func TestRunExplicitContradiction(t *testing.T) {
	dir := t.TempDir()
	initPath := filepath.Join(t.TempDir(), "pretrain_32.pth")
	savePth(t, initPath, 2)
	var logs []string
	rc := runConfig(dir, train.StagePretrain, &logs)
	rc.Model.HiddenSize, rc.Model.IntermediateSize = 64, 96
	rc.Init, rc.Explicit = initPath, []string{"hidden_size", "num_hidden_layers"}
	_, err := train.Run(t.Context(), rc)
	if !errors.Is(err, train.ErrArchitecture) {
		t.Fatalf("err = %v, want ErrArchitecture", err)
	}
	if want := "--hidden_size 64 but " + initPath + " has hidden_size 32"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q lacks %q", err, want)
	}
	if strings.Contains(err.Error(), "num_hidden_layers") {
		t.Errorf("error %q names num_hidden_layers, which agrees", err)
	}
	// A flag that agrees is fine.
	rc.Model.HiddenSize, rc.Model.IntermediateSize = 32, 48
	mustRun(t, rc)

	// Against a resume state: --use_moe names pretrain_32_moe_resume, which
	// is not there, while pretrain_32_resume is.
	rc = runConfig(dir, train.StagePretrain, &logs)
	rc.Model.UseMoE, rc.Explicit, rc.Resume = true, []string{"use_moe"}, true
	rc.Options.Epochs, rc.AllowChangedSchedule = 2, true
	_, err = train.Run(t.Context(), rc)
	if !errors.Is(err, train.ErrArchitecture) || !strings.Contains(err.Error(), "--resume with --use_moe true: "+filepath.Join(dir, "pretrain_32_moe_resume.safetensors")+" is not there, but "+filepath.Join(dir, "pretrain_32_resume.safetensors")+" is") {
		t.Errorf("err = %v, want the resume contradiction named", err)
	}
}

// TestRunSavesTokenizer: the tokenizer is written next to the checkpoints,
// and one whose vocabulary is not the model's is refused, naming both.
func TestRunSavesTokenizer(t *testing.T) {
	tok, err := tokenizer.Default()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var logs []string
	rc := runConfig(dir, train.StagePretrain, &logs)
	rc.Tokenizer = tok
	_, err = train.Run(t.Context(), rc)
	if !errors.Is(err, train.ErrArchitecture) || !strings.Contains(err.Error(), "the tokenizer has 6400 tokens but the model (random init (seed 42)) has vocab_size 60") {
		t.Fatalf("err = %v, want the vocabulary mismatch", err)
	}
	rc.Model.VocabSize = tok.VocabSize()
	mustRun(t, rc)
	back, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if back.VocabSize() != 6400 {
		t.Errorf("saved tokenizer has %d tokens, want 6400", back.VocabSize())
	}
	if _, err := os.Stat(filepath.Join(dir, "tokenizer_config.json")); err != nil {
		t.Errorf("no chat template saved: %v", err)
	}
}
