package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/model"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// InitOptions are the flags of `minimind init`.
type InitOptions struct {
	Model ModelFlags
	Out   string
	Seed  uint64
	DType string
}

// AddFlags registers init's flags.
func (o *InitOptions) AddFlags(f *pflag.FlagSet) {
	o.Model.AddFlags(f)
	f.StringVar(&o.Out, "out", "", "output: an HF directory (config.json + model.safetensors), or a .pth file")
	f.Uint64Var(&o.Seed, "seed", 42, "random seed for the initialisation")
	f.StringVar(&o.DType, "dtype", "f32", "stored precision: f32, f16 or bf16")
}

func newInitCommand(g *globalOptions) *cobra.Command {
	var opts InitOptions
	cmd := &cobra.Command{
		Use:   "init --out DIR|FILE.pth [architecture flags]",
		Short: "Create a randomly initialised MiniMind model",
		Long: `Create a MiniMind model with PyTorch's default initialisation (what the
original MiniMind starts pretraining from): every linear layer and the tied
embedding uniform in ±1/sqrt(fan_in), norms at 1. The result is
deterministic for a given --seed.

Examples:
  minimind init --out ./tiny --hidden_size 128 --num_hidden_layers 2
  minimind init --out ./out/pretrain_512.pth --dtype f16
  minimind init --out ./moe --use_moe`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInit(cmd.Context(), opts, g, cmd.OutOrStdout())
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

func parseDType(s string) (safetensors.DType, error) {
	switch strings.ToLower(s) {
	case "f32", "fp32", "float32":
		return safetensors.F32, nil
	case "f16", "fp16", "float16", "half":
		return safetensors.F16, nil
	case "bf16", "bfloat16":
		return safetensors.BF16, nil
	}
	return "", fmt.Errorf("%w: dtype %q: want f32, f16 or bf16", errUsage, s)
}

// saveModel writes p to an HF directory or, for a .pth path, a state dict.
func saveModel(out string, p *model.Params, dt safetensors.DType) error {
	if strings.HasSuffix(strings.ToLower(out), ".pth") {
		return checkpoint.SavePth(out, p, string(dt))
	}
	return checkpoint.SaveHF(out, p, dt)
}

func runInit(_ context.Context, opts InitOptions, _ *globalOptions, out io.Writer) error {
	if opts.Out == "" {
		return fmt.Errorf("%w: --out is required", errUsage)
	}
	dt, err := parseDType(opts.DType)
	if err != nil {
		return err
	}
	cfg, err := opts.Model.Config()
	if err != nil {
		return err
	}
	p, err := model.NewParams(cfg)
	if err != nil {
		return err
	}
	p.Init(opts.Seed)
	if err := saveModel(opts.Out, p, dt); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %s: %s parameters (%s)\n", opts.Out, humanCount(len(p.Data)), dt)
	return nil
}

// InfoOptions are the flags of `minimind info`.
type InfoOptions struct {
	Model ModelFlags
	Path  string
	JSON  bool
}

func newInfoCommand(g *globalOptions) *cobra.Command {
	var opts InfoOptions
	cmd := &cobra.Command{
		Use:   "info --model PATH",
		Short: "Show a model's configuration, parameter count and memory needs",
		Long: `Show what a model path holds: the architecture, the number of parameters
(tied embedding counted once), the tensors, and the memory needed to run and
to train it.

A model path is an HF directory (config.json + model.safetensors) or a
PyTorch .pth state dict; for a .pth the sizes come from the tensor shapes,
and --num_attention_heads supplies the head count (default 8, MiniMind's).

Examples:
  minimind info --model ./out/pretrain_512.pth
  minimind info --model ./MiniMind2-Small --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInfo(cmd.Context(), opts, g, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&opts.Path, "model", "", "model path (HF directory or .pth)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the resolved config.json only")
	cmd.Flags().IntVar(&opts.Model.NumAttentionHeads, "num_attention_heads", 8, "query heads, for .pth files (shapes cannot tell)")
	return cmd
}

func runInfo(_ context.Context, opts InfoOptions, _ *globalOptions, out io.Writer) error {
	if opts.Path == "" {
		return fmt.Errorf("%w: --model is required", errUsage)
	}
	p, err := loadModelParams(opts.Path, opts.Model.NumAttentionHeads)
	if err != nil {
		return err
	}
	if opts.JSON {
		b, err := json.MarshalIndent(p.Config, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%s\n", b)
		return err
	}
	c := p.Config
	kind := "dense"
	if c.UseMoE {
		kind = fmt.Sprintf("MoE: %d routed experts (top-%d) + %d shared, expert FFN %d", c.Experts(), c.NumExpertsPerTok, c.SharedExperts(), c.ExpertSize())
	}
	family := "MiniMind2 (2510 line: Llama-style block)"
	if c.IsMiniMind3() {
		family = "minimind-3 (Qwen3-style block: head_dim, q/k RMSNorm)"
	}
	n := len(p.Data)
	fmt.Fprintf(out, "model       %s\n", filepath.Clean(opts.Path))
	fmt.Fprintf(out, "family      %s\n", family)
	fmt.Fprintf(out, "type        %s\n", kind)
	fmt.Fprintf(out, "hidden      %d, %d layers, %d heads / %d kv heads (head size %d), FFN %d\n",
		c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadSize(), c.IntermediateSize)
	fmt.Fprintf(out, "vocab       %d, rope_theta %g, max positions %d\n", c.VocabSize, c.RopeTheta, c.MaxPositionEmbeddings)
	fmt.Fprintf(out, "parameters  %s (%d)\n", humanCount(n), n)
	fmt.Fprintf(out, "memory      weights %s fp32 / %s fp16; training state (weights+grads+AdamW) %s\n",
		humanBytes(int64(n)*4), humanBytes(int64(n)*2), humanBytes(int64(n)*16))
	q8 := "q8_0 not possible (a matrix input size is not a multiple of 32)"
	if b, err := model.Q8CopyBytes(p); err == nil {
		q8 = fmt.Sprintf("q8_0 +%s", humanBytes(b))
	}
	fmt.Fprintf(out, "inference   --dtype copies beside the fp32 weights: bf16/f16 +%s, %s\n", humanBytes(int64(n)*2), q8)
	if c.Tied() {
		fmt.Fprintf(out, "tensors     %d (+ tied lm_head.weight)\n", len(p.Specs))
	} else {
		fmt.Fprintf(out, "tensors     %d (lm_head.weight untied)\n", len(p.Specs))
	}
	return nil
}

// ConvertOptions are the flags of `minimind convert`.
type ConvertOptions struct {
	Model ModelFlags
	In    string
	Out   string
	DType string
	// MergeLoRA is an adapter file merged into the weights (W + B·A).
	MergeLoRA string
	// To is the output format: "" (by --out: .pth or our HF layout), or
	// one of convertTargets (gguf and ollama: convert_gguf.go).
	To string
	// Tokenizer is the tokenizer exported with --to hf-llama|hf-qwen3|gguf|ollama
	// ("": the model's own, else the project's default).
	Tokenizer string
}

func newConvertCommand(g *globalOptions) *cobra.Command {
	var opts ConvertOptions
	cmd := &cobra.Command{
		Use:   "convert --model PATH --out PATH [--to FORMAT] [--dtype f16]",
		Short: "Convert weights between PyTorch .pth, HF safetensors and transformers' Llama/Qwen3, or change precision",
		Long: `Convert a model between the formats MiniMind users meet: the trainers'
PyTorch state dicts (out/pretrain_512.pth, fp16, both tied keys) and the HF
layout (config.json + model.safetensors, the tied matrix stored once).
The output kind follows --out: a path ending in .pth writes a state dict,
anything else an HF directory.

--to chooses another output format:
  hf        MiniMind's own HF directory (MiniMindForCausalLM config.json)
  hf-llama  transformers' LlamaForCausalLM (MiniMind2 dense), as upstream
            2510's convert_torch2transformers_llama: loads in transformers,
            vLLM and anything else that reads Llama checkpoints
  hf-qwen3  transformers' Qwen3ForCausalLM (minimind-3 dense) or
            Qwen3MoeForCausalLM (minimind-3 MoE), as upstream's
            convert_torch2transformers
hf-llama and hf-qwen3 write config.json, generation_config.json,
model.safetensors, tokenizer.json and tokenizer_config.json (the model's
tokenizer, or --tokenizer). A model the target cannot compute exactly
(MiniMind2-MoE, a generation the target lacks, YaRN) is refused with the
reason. --model reads all of these directories back, and upstream's own
MiniMindForCausalLM directories (model.safetensors, sharded or not, or
pytorch_model.bin).

Examples:
  minimind convert --model ./out/full_sft_512.pth --out ./MiniMind2-Small
  minimind convert --model ./MiniMind2-Small --out ./full_sft_512.pth --dtype f16
  minimind convert --model ./big --out ./big-bf16 --dtype bf16
  minimind convert --model ./out/full_sft_512.pth --merge_lora ./out/lora_medical_512.pth --out ./out/merged_512.pth
  minimind convert --model ./out/full_sft_512.pth --to hf-llama --dtype f16 --out ./MiniMind2-Small-llama
  minimind convert --model ./minimind-3 --to hf-qwen3 --out ./minimind-3-qwen3
  minimind convert --model ./MiniMind2 --to gguf --out ./minimind2.gguf --dtype q8_0
  minimind export --model ./MiniMind2 --to ollama --out ./ollama/minimind2.gguf   (also writes ./ollama/Modelfile)

--to gguf writes one GGUF file for llama.cpp (weights, config, tokenizer and
chat template; --dtype f32, f16, bf16 or q8_0): MiniMind2 as llama,
MiniMind2-MoE as ernie4_5-moe (top-k renormalised) or deepseek, minimind-3
as qwen3 / qwen3moe. A .gguf file is also accepted as --model everywhere.

--merge_lora writes W + B·A for every linear the adapter wraps, as upstream's
merge_lora: in fp16 (the default for .pth) fp16(W) + fp16(B·A) added in fp16,
exactly upstream's file; with --dtype f32 the exact float32 sum.`,
		Aliases: []string{"export"},
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runConvert(cmd.Context(), opts, g, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&opts.In, "model", "", "input model path (HF directory or .pth)")
	cmd.Flags().StringVar(&opts.Out, "out", "", "output path (.pth file or HF directory)")
	cmd.Flags().StringVar(&opts.DType, "dtype", "", "stored precision: f32, f16 or bf16 (default: f16 for .pth as MiniMind, f32 otherwise)")
	cmd.Flags().IntVar(&opts.Model.NumAttentionHeads, "num_attention_heads", 8, "query heads, for .pth input (shapes cannot tell)")
	cmd.Flags().StringVar(&opts.MergeLoRA, "merge_lora", "", "merge this LoRA adapter file into the weights (W + B·A)")
	cmd.Flags().StringVar(&opts.To, "to", "", "output format: hf, hf-llama, hf-qwen3, gguf (llama.cpp; --dtype f32|f16|bf16|q8_0) or ollama (GGUF + Modelfile) (default: by --out, .pth or hf)")
	cmd.Flags().StringVar(&opts.Tokenizer, "tokenizer", "", "tokenizer.json or its folder, written with --to hf-llama|hf-qwen3|gguf|ollama (default: the model's own, else the project's)")
	return cmd
}

func runConvert(_ context.Context, opts ConvertOptions, _ *globalOptions, out io.Writer) error {
	if opts.In == "" || opts.Out == "" {
		return fmt.Errorf("%w: --model and --out are required", errUsage)
	}
	if !slices.Contains(convertTargets, opts.To) {
		return fmt.Errorf("%w: --to %q: want one of %s", errUsage, opts.To, strings.Join(convertTargets[1:], ", "))
	}
	if opts.To == "gguf" || opts.To == "ollama" {
		return runConvertGGUF(opts, out)
	}
	if opts.Tokenizer != "" && !strings.HasPrefix(opts.To, "hf-") {
		return fmt.Errorf("%w: --tokenizer is written only with --to hf-llama, hf-qwen3, gguf or ollama", errUsage)
	}
	ds := opts.DType
	if ds == "" {
		ds = "f32"
		if strings.HasSuffix(strings.ToLower(opts.Out), ".pth") {
			ds = "f16"
		}
	}
	dt, err := parseDType(ds)
	if err != nil {
		return err
	}
	p, err := loadModelParams(opts.In, opts.Model.NumAttentionHeads)
	if err != nil {
		return err
	}
	if opts.MergeLoRA != "" {
		l, err := checkpoint.LoadLoRA(opts.MergeLoRA, model.New(p, nil))
		if err != nil {
			return fmt.Errorf("--merge_lora: %w", err)
		}
		if p, err = checkpoint.MergeLoRA(p, l, string(dt)); err != nil {
			return err
		}
		fmt.Fprintf(out, "merged %s into %d linears\n", opts.MergeLoRA, len(l.Modules()))
	}
	if err := makeParent(opts.Out); err != nil {
		return err
	}
	switch opts.To {
	case "":
		err = saveModel(opts.Out, p, dt)
	case "hf":
		err = checkpoint.SaveHF(opts.Out, p, dt)
	case "hf-llama", "hf-qwen3":
		return exportTransformers(opts, p, dt, out)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %s (%s parameters, %s)\n", opts.Out, humanCount(len(p.Data)), dt)
	return nil
}

// makeParent creates the folder an output file goes into, as the
// trainers do for --out_dir, so `--out new/dir/model.gguf` just works.
func makeParent(out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("--out %s: %w", out, err)
	}
	return nil
}

// convertTargets are convert's --to values ("" first: chosen by --out).
var convertTargets = []string{"", "hf", "hf-llama", "hf-qwen3", "gguf", "ollama"}

// loadModelParams loads a model path (HF directory or .pth). heads is the
// query-head count of a .pth, which its shapes cannot tell (0: MiniMind's
// 8); an HF directory's config.json says it. A folder of .pth files
// without config.json is an error that lists them.
func loadModelParams(path string, heads int) (*model.Params, error) {
	if err := checkModelDir(path); err != nil {
		return nil, err
	}
	base := model.DefaultConfig()
	if heads > 0 {
		base.NumAttentionHeads = heads
	}
	return checkpoint.Load(path, base)
}

// checkModelDir answers `--model out` where out holds the trainers' .pth
// files rather than an HF model: the error names them, so the user can
// pick one. Other paths are left to checkpoint.Load.
func checkModelDir(path string) error {
	st, err := os.Stat(path)
	if err != nil || !st.IsDir() {
		return nil
	}
	if _, err := os.Stat(filepath.Join(path, checkpoint.ConfigFile)); err == nil {
		return nil
	}
	pths, _ := filepath.Glob(filepath.Join(path, "*.pth"))
	if len(pths) == 0 {
		return nil
	}
	return fmt.Errorf("%w: --model %s: a folder without %s, so not an HF model directory; it holds %d checkpoint(s), pass one: %s",
		errUsage, path, checkpoint.ConfigFile, len(pths), strings.Join(pths, ", "))
}

// prefillRows is an upper bound on the rows of one inference forward pass
// (generate.EngineOptions' default prefill chunk).
const prefillRows = 256

// engineBytes estimates, in bytes, what an inference engine allocates
// beyond the weights: the KV cache (keys and values in float32 for every
// layer, seqs × ctxLen positions) and one set of inference activations
// for a forward pass of max(seqs, prefillRows) rows (residual, norms,
// attention, FFN, logits). float64 so that absurd flags cannot overflow.
func engineBytes(c model.Config, ctxLen, seqs int) float64 {
	kvC := float64(c.NumKeyValueHeads) * float64(c.HeadSize())
	kv := 2 * float64(c.NumHiddenLayers) * float64(seqs) * float64(ctxLen) * kvC * 4
	F := float64(c.IntermediateSize)
	if c.UseMoE {
		F *= float64(c.NumExpertsPerTok + c.NSharedExperts)
	}
	rows := float64(max(seqs, prefillRows))
	act := rows * (6*float64(c.HiddenSize) + 2*kvC + 3*F + float64(c.VocabSize)) * 4
	return kv + act
}

// checkEngineSize rejects a context window the model's RoPE tables do not
// cover, and a KV cache plus activations larger than the available memory
// (known false: unknown, not checked), before anything is allocated.
func checkEngineSize(c model.Config, ctxLen, seqs int, avail int64, known bool) error {
	if ctxLen > c.MaxPositionEmbeddings {
		return fmt.Errorf("%w: --context_len %d exceeds the model's max_position_embeddings %d", errUsage, ctxLen, c.MaxPositionEmbeddings)
	}
	what := fmt.Sprintf("the KV cache and activations for %d sequence(s) of --context_len %d", seqs, ctxLen)
	return checkFits(what, engineBytes(c, ctxLen, seqs), avail, known)
}

func humanCount(n int) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fK", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
