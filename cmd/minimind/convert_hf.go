package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/model"
)

// exportTransformers writes p as the transformers checkpoint --to names
// (hf-llama or hf-qwen3) into the directory --out, with the model's
// tokenizer. Everything that can refuse (the architecture, the
// tokenizer's size) is checked before anything is written.
func exportTransformers(opts ConvertOptions, p *model.Params, dt safetensors.DType, out io.Writer) error {
	target := checkpoint.TargetLlama
	if opts.To == "hf-qwen3" {
		target = checkpoint.TargetQwen3
	}
	if strings.HasSuffix(strings.ToLower(opts.Out), ".pth") {
		return fmt.Errorf("%w: --to %s writes a directory, not %s", errUsage, opts.To, opts.Out)
	}
	if _, err := checkpoint.TransformersConfig(&p.Config, target, dt); err != nil {
		return fmt.Errorf("--to %s: %s: %w", opts.To, opts.In, err)
	}
	tok, tokSource, err := modelTokenizer(opts.Tokenizer, opts.In)
	if err != nil {
		return err
	}
	if err := checkVocab(tok, tokSource, opts.Tokenizer != "", p.Config.VocabSize, opts.In); err != nil {
		return err
	}
	arch, err := checkpoint.ExportTransformers(opts.Out, p, target, dt)
	if err != nil {
		return fmt.Errorf("--to %s: %w", opts.To, err)
	}
	if err := tok.Save(opts.Out); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %s: %s (%s parameters, %s), tokenizer from %s\n", opts.Out, arch, humanCount(len(p.Data)), dt, tokSource)
	return nil
}
