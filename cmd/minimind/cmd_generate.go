package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/minimind-go/minimind/chat"
	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/generate"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/tokenizer"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// InferenceFlags say which model and tokenizer to load, for generate, chat,
// eval and serve.
//
// The model's sizes come from the file, so there are no architecture flags
// here, only the two things a file may not say: the head count of a .pth
// (its shapes cannot tell) and MiniMind's inference-time YaRN switch.
type InferenceFlags struct {
	Model string
	// Heads is the query-head count for a .pth (0: MiniMind's 8); for an
	// HF directory it must agree with config.json when given.
	Heads int
	// RopeScaling turns on YaRN (MiniMind's --inference_rope_scaling).
	RopeScaling bool
	Tokenizer   string
	// ContextLen is the positions of prompt plus reply per sequence; 0
	// means defaultContextLen, or the model's positions when fewer.
	ContextLen int
	Device     DeviceFlags
	// DType is the precision of the inference weights: f32, f16 or bf16
	// (16-bit copies for decode steps), or q8_0 (8-bit for every product;
	// model.SetInferenceDType).
	DType string
	// LoRA is an adapter file (upstream's save_lora .pth) applied at load.
	LoRA string
}

// AddFlags registers the model, tokenizer and device flags.
func (o *InferenceFlags) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&o.Model, "model", "", "model: an HF directory (config.json + model.safetensors) or a MiniMind .pth")
	f.StringVar(&o.Tokenizer, "tokenizer", "", "tokenizer.json or a folder holding one (default: the model folder's, else the built-in one)")
	f.IntVar(&o.ContextLen, "context_len", 0, "context window in tokens (prompt + reply), 2 to the model's max_position_embeddings (default 2048, or max_position_embeddings when smaller)")
	f.IntVar(&o.Heads, "num_attention_heads", 0, "query heads of a .pth model, which its shapes cannot tell (default 8, MiniMind's); HF directories say it in config.json")
	f.BoolVar(&o.RopeScaling, "inference_rope_scaling", false, "YaRN RoPE scaling (x16 context) as MiniMind's inference option")
	o.Device.AddFlags(f)
	f.StringVar(&o.LoRA, "lora", "", "apply this LoRA adapter file ('minimind lora' or upstream's save_lora .pth) to the model at load")
	f.StringVar(&o.DType, "dtype", "f32", "inference weight precision: f32 (exact); bf16 or f16 (16-bit copies for decode steps: half the memory traffic, logits within ~1e-2); q8_0 (GGUF's 8-bit blocks for every product, activations rounded to 8 bits too: a quarter of f32's traffic, eval loss within ~0.1%; matrix inputs must be multiples of 32)")
}

// load loads the model on the CPU backend and its tokenizer; the returned
// func releases the backend's threads.
func (o *InferenceFlags) load(g *globalOptions) (*model.Model, *tokenizer.Tokenizer, func(), error) {
	if o.Model == "" {
		return nil, nil, nil, fmt.Errorf("%w: --model is required", errUsage)
	}
	tok, tokSource, err := modelTokenizer(o.Tokenizer, o.Model)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := intAtLeast("num_attention_heads", o.Heads, 0); err != nil {
		return nil, nil, nil, err
	}
	p, err := loadModelParams(o.Model, o.Heads)
	if err != nil {
		return nil, nil, nil, err
	}
	if o.Heads != 0 && o.Heads != p.Config.NumAttentionHeads {
		return nil, nil, nil, fmt.Errorf("%w: --num_attention_heads %d contradicts the model's %d (from %s)", errUsage, o.Heads, p.Config.NumAttentionHeads, o.Model)
	}
	if o.RopeScaling {
		// Upstream's override: the fixed YaRN dict, whatever rope_scaling
		// the file has.
		p.Config.SetInferenceRopeScaling(true)
	}
	if err := checkVocab(tok, tokSource, o.Tokenizer != "", p.Config.VocabSize, o.Model); err != nil {
		return nil, nil, nil, err
	}
	be, closeFn, err := selectDevice(g, o.Device, "auto")
	if err != nil {
		return nil, nil, nil, err
	}
	m := model.New(p, be)
	if o.LoRA != "" {
		if _, err := checkpoint.LoadLoRA(o.LoRA, m); err != nil {
			closeFn()
			return nil, nil, nil, fmt.Errorf("--lora: %w", err)
		}
	}
	if o.DType != "" && o.DType != "f32" {
		if err := m.SetInferenceDType(o.DType); err != nil {
			closeFn()
			return nil, nil, nil, fmt.Errorf("%w: --dtype: %v", errUsage, err)
		}
	}
	return m, tok, closeFn, nil
}

// defaultContextLen is --context_len when not given (capped by the
// model's max_position_embeddings).
const defaultContextLen = 2048

// engine loads the model and wraps it in an engine of slots sequences.
func (o *InferenceFlags) engine(g *globalOptions, slots int) (*generate.Engine, func(), error) {
	return o.engineWith(g, slots, 0)
}

// engineWith is engine with a queue size (0 = the default).
func (o *InferenceFlags) engineWith(g *globalOptions, slots, queue int) (*generate.Engine, func(), error) {
	if o.ContextLen != 0 {
		if err := intAtLeast("context_len", o.ContextLen, 2); err != nil {
			return nil, nil, err
		}
	}
	if err := firstError(positiveInt("slots", slots), intAtLeast("queue", queue, 0)); err != nil {
		return nil, nil, err
	}
	m, tok, closeFn, err := o.load(g)
	if err != nil {
		return nil, nil, err
	}
	window := o.ContextLen
	if window == 0 {
		window = min(defaultContextLen, m.Config.MaxPositionEmbeddings)
	}
	avail, known := memAvailable()
	if err := checkEngineSize(m.Config, window, slots, avail, known); err != nil {
		closeFn()
		return nil, nil, err
	}
	e, err := generate.NewEngine(m, tok, generate.EngineOptions{Slots: slots, Window: window, Queue: queue})
	if err != nil {
		closeFn()
		return nil, nil, err
	}
	return e, closeFn, nil
}

// SamplingFlags are the generation settings, with MiniMind's eval_llm.py
// defaults.
type SamplingFlags struct {
	MaxNewTokens      int
	Temperature       float64
	TopP              float64
	TopK              int
	RepetitionPenalty float64
	FrequencyPenalty  float64
	PresencePenalty   float64
	Seed              uint64
	Stop              []string
}

// AddFlags registers the sampling flags.
func (o *SamplingFlags) AddFlags(f *pflag.FlagSet) {
	d := generate.DefaultOptions()
	f.IntVar(&o.MaxNewTokens, "max_new_tokens", d.MaxNewTokens, "longest reply in tokens, at least 1 (a reply also ends when the context window is full)")
	f.Float64Var(&o.Temperature, "temperature", d.Temperature, "sampling temperature; 0 = greedy (deterministic)")
	f.Float64Var(&o.TopP, "top_p", d.TopP, "nucleus sampling: keep the most likely tokens up to this probability (1 = off)")
	f.IntVar(&o.TopK, "top_k", d.TopK, "keep only the K most likely tokens (0 = off)")
	f.Float64Var(&o.RepetitionPenalty, "repetition_penalty", d.RepetitionPenalty, "penalty for tokens already seen (1 = off)")
	f.Float64Var(&o.FrequencyPenalty, "frequency_penalty", d.FrequencyPenalty, "subtract this from a token's logit for each time it is already in the reply (0 = off)")
	f.Float64Var(&o.PresencePenalty, "presence_penalty", d.PresencePenalty, "subtract this once from the logit of every token already in the reply (0 = off)")
	f.Uint64Var(&o.Seed, "seed", d.Seed, "random seed: the same seed and prompt give the same reply")
	f.StringArrayVar(&o.Stop, "stop", nil, "stop string (repeatable); the reply ends before it")
}

// options converts the flags, rejecting impossible settings as usage errors.
func (o *SamplingFlags) options() (generate.Options, error) {
	opt := generate.Options{MaxNewTokens: o.MaxNewTokens, Temperature: o.Temperature, TopP: o.TopP, TopK: o.TopK,
		RepetitionPenalty: o.RepetitionPenalty, FrequencyPenalty: o.FrequencyPenalty, PresencePenalty: o.PresencePenalty,
		Seed: o.Seed, Stop: o.Stop}
	// Flag-named checks first; Validate then catches the rest.
	if err := firstError(
		positiveInt("max_new_tokens", o.MaxNewTokens),
		nonNegativeFloat("temperature", o.Temperature),
		intAtLeast("top_k", o.TopK, 0),
		positiveFloat("repetition_penalty", o.RepetitionPenalty),
	); err != nil {
		return opt, err
	}
	if !(o.TopP >= 0 && o.TopP <= 1) {
		return opt, fmt.Errorf("%w: --top_p %v: must be between 0 and 1", errUsage, o.TopP)
	}
	if err := opt.Validate(); err != nil {
		return opt, fmt.Errorf("%w: %v", errUsage, err)
	}
	return opt, nil
}

// GenerateOptions are the flags of `minimind generate`.
type GenerateOptions struct {
	Inference InferenceFlags
	Sampling  SamplingFlags
	Prompts   []string
	Chat      bool
	System    string
}

// AddFlags registers generate's flags.
func (o *GenerateOptions) AddFlags(f *pflag.FlagSet) {
	o.Inference.AddFlags(f)
	o.Sampling.AddFlags(f)
	f.StringArrayVar(&o.Prompts, "prompt", nil, "prompt text (repeat for several prompts, decoded together as one batch)")
	f.BoolVar(&o.Chat, "chat", false, "wrap each prompt as a user turn in the chat template (for SFT models); otherwise bos + text (pretrained models)")
	f.StringVar(&o.System, "system", "", "system prompt with --chat (default: the template's)")
}

func newGenerateCommand(g *globalOptions) *cobra.Command {
	var opts GenerateOptions
	cmd := &cobra.Command{
		Use:   "generate --model PATH --prompt TEXT [--chat]",
		Short: "Continue a prompt (or several at once) with a model",
		Long: `Generate text with the KV cache. One prompt streams its reply as it is
decoded; several --prompt flags are decoded together as one batch and printed
in order. Without --chat the prompt is bos + text, as MiniMind feeds
pretrained weights; with --chat it is a user turn in the chat template.

Sampling follows MiniMind's eval_llm.py (temperature 0.85, top-p 0.85, HF's
top-k 50); --temperature 0 is greedy and deterministic: each token is the
argmax of the model's logits. A prompt longer than --context_len is an error.
Tokens/s go to stderr unless --quiet.

Examples:
  minimind generate --model ./out/pretrain_512.pth --prompt "大语言模型是"
  minimind generate --model ./MiniMind2 --chat --prompt "你好" --temperature 0
  minimind generate --model ./MiniMind2 --chat --prompt "a" --prompt "b" --max_new_tokens 64
  minimind generate --model ./MiniMind2 --chat --prompt "你好" --dtype q8_0

Exit status: 0 success, 1 error, 2 bad flags, 130 interrupted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runGenerate(cmd.Context(), opts, g, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

func runGenerate(ctx context.Context, opts GenerateOptions, g *globalOptions, out, errOut io.Writer) error {
	if len(opts.Prompts) == 0 {
		return fmt.Errorf("%w: --prompt is required", errUsage)
	}
	sopt, err := opts.Sampling.options()
	if err != nil {
		return err
	}
	eng, closeFn, err := opts.Inference.engine(g, len(opts.Prompts))
	if err != nil {
		return err
	}
	defer closeFn()
	tok := eng.Tokenizer()
	tmpl, err := chat.ForTokenizer(tok)
	if err != nil {
		return err
	}
	reqs := make([]generate.Request, len(opts.Prompts))
	for i, p := range opts.Prompts {
		ids := generate.TextPrompt(tok, int32(eng.Config().BosTokenID), p)
		if opts.Chat {
			var msgs []chat.Message
			if opts.System != "" {
				msgs = append(msgs, chat.Message{Role: "system", Content: opts.System})
			}
			msgs = append(msgs, chat.Message{Role: "user", Content: p})
			if ids, err = generate.ChatPrompt(tmpl, tok, msgs, chat.Options{}); err != nil {
				return err
			}
		}
		reqs[i] = generate.Request{Prompt: ids, Options: sopt}
	}
	var onEvent func(int, generate.Event)
	if len(reqs) == 1 {
		onEvent = func(_ int, ev generate.Event) { io.WriteString(out, ev.Text) }
	}
	start := time.Now()
	res, err := eng.Generate(ctx, reqs, onEvent)
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	elapsed := time.Since(start).Seconds()
	total := 0
	for i, r := range res {
		total += len(r.Tokens)
		if len(res) > 1 {
			fmt.Fprintf(out, "=== %d: %s\n%s\n", i+1, opts.Prompts[i], r.Text)
		}
	}
	if len(res) == 1 {
		fmt.Fprintln(out)
	}
	if !g.quiet {
		fmt.Fprintf(errOut, "[%d tokens in %.2f s, %.1f tokens/s, finish: %s]\n", total, elapsed, float64(total)/elapsed, res[0].Finish)
	}
	return nil
}
