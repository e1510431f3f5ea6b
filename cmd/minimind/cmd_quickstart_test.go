package main

import (
	"strings"
	"testing"
)

// TestQuickstartFull: --full sets the longer run's values, except for the
// flags given explicitly.
func TestQuickstartFull(t *testing.T) {
	cmd := newQuickstartCommand(&globalOptions{})
	f := cmd.Flags()
	if err := f.Parse([]string{"--full", "--hidden_size", "64"}); err != nil {
		t.Fatal(err)
	}
	var o QuickstartOptions
	for name, p := range map[string]*int{"hidden_size": &o.Hidden, "max_seq_len": &o.SeqLen, "sft_max_seq_len": &o.SFTSeqLen, "pretrain_epochs": &o.PreEpochs} {
		v, err := f.GetInt(name)
		if err != nil {
			t.Fatal(err)
		}
		*p = v
	}
	o.PretrainLR, _ = f.GetFloat64("pretrain_lr")
	o.SFTLR, _ = f.GetFloat64("sft_lr")
	o.applyFull(f.Changed)
	got := [...]float64{float64(o.Hidden), float64(o.SeqLen), float64(o.SFTSeqLen), float64(o.PreEpochs), o.PretrainLR, o.SFTLR}
	if want := [...]float64{64, 256, 128, 2, 2e-3, 5e-4}; got != want {
		t.Errorf("--full --hidden_size 64: hidden, seq, sft seq, epochs, lrs = %v, want %v", got, want)
	}
}

// TestRenameWriter: the stage's lines name the plot under the name the
// quickstart keeps it as.
func TestRenameWriter(t *testing.T) {
	var b strings.Builder
	w := renameWriter{w: &b, old: "out/loss.png", new: "out/pretrain_loss.png"}
	line := "plot    out/loss.png\n"
	if n, err := w.Write([]byte(line)); n != len(line) || err != nil {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(line))
	}
	if got, want := b.String(), "plot    out/pretrain_loss.png\n"; got != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
}
