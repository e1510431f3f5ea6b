package train

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/internal/atomicfile"
	"github.com/minimind-go/minimind/kernels"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/tokenizer"
)

// Stages Run trains, as Config.Stage and the "stage" of metrics.jsonl.
const (
	StagePretrain = "pretrain" // {"text"} data, from scratch or --init
	StageSFT      = "sft"      // {"conversations"} data, from the pretrain checkpoint
)

// StageKind returns the data kind a stage trains on.
func StageKind(stage string) (data.Kind, error) {
	switch stage {
	case StagePretrain:
		return data.KindPretrain, nil
	case StageSFT, StageDistill:
		return data.KindSFT, nil
	case StageDPO:
		return data.KindDPO, nil
	}
	return 0, fmt.Errorf("train: stage %q: want %s, %s, %s or %s", stage, StagePretrain, StageSFT, StageDPO, StageDistill)
}

// WeightName is the seed's checkpoint stem for a stage and architecture:
// pretrain_512, full_sft_512_moe.
func WeightName(stage string, c *model.Config) string {
	s := fmt.Sprintf("%s%d", weightPrefix(stage), c.HiddenSize)
	if c.UseMoE {
		s += "_moe"
	}
	return s
}

// weightPrefix is the start of a stage's checkpoint names, up to the
// hidden size.
func weightPrefix(stage string) string {
	switch stage {
	case StageSFT:
		return "full_sft_"
	case StageDPO:
		return "dpo_"
	case StageDistill:
		return "full_dist_"
	}
	return "pretrain_"
}

// Comm is what a data-parallel run needs of dist.Comm: the Reducer's
// collectives and a broadcast of rank 0's initial weights.
type Comm interface {
	Reducer
	Broadcast(ctx context.Context, buf []float32, root int) error
}

// Config is one training run, resolved: what `minimind pretrain|sft`
// decides from its flags. DefaultConfig fills in the defaults.
type Config struct {
	Stage   string          // StagePretrain or StageSFT
	Model   model.Config    // the architecture of a new model (a resumed run takes the saved one, Init the file's)
	Options Options         // hyper-parameters; Options.MaxSeqLen is taken from Data
	Data    data.Dataset    // training examples of Stage's kind, the same on every rank
	Backend kernels.Backend // runs the model
	Comm    Comm            // data-parallel ranks; nil (or one rank) is one process
	Workers int             // goroutines filling a batch's rows (JSONL data tokenizes there)
	// Device, when set, builds the device-resident trainer (resident.go:
	// `--device cuda`) for the weights and batches up to batch × seqLen
	// tokens; the steps then run there. Pretraining and SFT in one
	// process only.
	Device func(p *model.Params, batch, seqLen int) (Resident, error)

	// Explicit names the architecture settings the user gave (config.json
	// names: "hidden_size", "use_moe", ...). When the weights come from a
	// file (Init, the resume state, the pretrain checkpoint) each must
	// agree with it, or Run fails with ErrArchitecture naming both; the
	// others are the file's.
	Explicit []string
	// Tokenizer, when set, is saved into OutDir (tokenizer.json and
	// tokenizer_config.json, as an HF directory holds them) at the first
	// save point, so that the checkpoints' loaders find it; its vocabulary
	// must be the model's (ErrArchitecture).
	Tokenizer *tokenizer.Tokenizer
	// Eval, when set, scores the model on held-out data every
	// Eval.Interval optimizer steps and at the end (rank 0): the loss goes
	// into that step's EvalLoss (metrics.jsonl's eval_loss, loss.png's
	// validation curve).
	Eval *EvalSet
	// MemAvailable returns the bytes of memory available for the run, and
	// false when unknown (then no check); nil reads /proc/meminfo.
	MemAvailable func() (int64, bool)

	OutDir string     // checkpoints, metrics.jsonl and loss.png (created if missing)
	Init   string     // start from these weights (HF directory or .pth) instead of random / the pretrain checkpoint
	Resume bool       // continue from OutDir's resume state when it exists
	DPO    DPOOptions // StageDPO's loss; its reference model is Init or OutDir's SFT checkpoint
	// Distill is StageDistill's teacher and loss.
	Distill DistillConfig
	// AllowChangedSchedule lets a resumed run change the options that
	// shape its batches and learning-rate schedule (epochs, batch size,
	// accumulation, max_seq_len, lr, warmup, grad clip); Run then notes
	// each change through OnLog. Without it such a change is an error
	// (ErrChangedSchedule).
	AllowChangedSchedule bool
	SaveDType            string // precision of the .pth weights: "f16" (as MiniMind), "bf16" or "f32", any case

	// Hooks, called on rank 0 only; a nil hook does nothing.
	OnLog     func(msg string)             // a note on a choice Run made (no resume state, no pretrain checkpoint)
	OnStart   func(Start)                  // the resolved run, before the first step
	OnStep    func(Step)                   // after every optimizer step (already in metrics.jsonl)
	OnSave    func(Save)                   // after the files of a save point are written
	OnMicro   func(Micro)                  // before each micro-batch's forward and backward pass (a long step's progress)
	OnEval    func(done, total int)        // while Eval scores: samples done of total
	PlotTitle func(c *model.Config) string // loss.png's title for the run's architecture; nil: "MiniMind-Go <stage>"
}

// DefaultConfig returns the defaults of stage: its Options, ./out and fp16
// weights.
func DefaultConfig(stage string) Config {
	o := DefaultOptions()
	switch stage {
	case StageSFT:
		o = DefaultSFTOptions()
	case StageDPO:
		o = DefaultDPOOptions()
	case StageDistill:
		o = DefaultDistillOptions()
	}
	return Config{Stage: stage, Options: o, OutDir: "./out", SaveDType: "f16", Distill: DistillConfig{Loss: DefaultDistill()}}
}

// Paths are the files a run writes in OutDir.
type Paths struct {
	Weights string // <stem>.pth: the weights at the last save point, as MiniMind's state dict
	Resume  string // <stem>_resume.safetensors: fp32 weights, AdamW moments and position (ResumeState)
	Metrics string // metrics.jsonl: one Step per line, every stage of OutDir
	Plot    string // loss.png: this stage's loss curve
}

// Paths returns the files of a run of a new Model; the stem is WeightName
// of Stage and Model. A run that starts from a file names them after the
// model it trains (PathsFor; Result.Paths).
func (c *Config) Paths() Paths { return c.PathsFor(&c.Model) }

// PathsFor returns the files of the run training architecture m.
func (c *Config) PathsFor(m *model.Config) Paths {
	stem := filepath.Join(c.OutDir, WeightName(c.Stage, m))
	return Paths{
		Weights: stem + ".pth",
		Resume:  stem + "_resume.safetensors",
		Metrics: filepath.Join(c.OutDir, "metrics.jsonl"),
		Plot:    filepath.Join(c.OutDir, "loss.png"),
	}
}

// Start describes a run whose weights and data are in place.
type Start struct {
	Model         model.Config // the architecture trained
	Params        int          // its parameter count
	Source        string       // where the weights came from: the resume file (step n), Init, the pretrain checkpoint or random init (seed s)
	Step          int          // optimizer steps already done (a resumed run's)
	StepsPerEpoch int
	TotalSteps    int
}

// EvalSet is the held-out data of Config.Eval.
type EvalSet struct {
	Data        *data.JSONLDataset
	Enc         *data.Encoder // the encoder Data was loaded with
	Interval    int           // optimizer steps between evaluations (0: at the end only)
	BatchTokens int           // positions per forward pass (Evaluate's batchTokens)
}

// Micro is a micro-batch about to run: the K-th of N of optimizer step
// Step (1-based) of Total.
type Micro struct {
	Step, Total, K, N int
}

// Save is a save point whose files are written.
type Save struct {
	Reason string // "interval", "epoch", "final" or "interrupt" (see Trainer.OnSave)
	Step   int    // optimizer steps the files hold
}

// Result is a finished run. Steps is empty on ranks other than 0.
type Result struct {
	Start
	Paths
	Steps   []Step  // this stage's steps in metrics.jsonl, a resumed run's earlier ones included
	Elapsed float64 // seconds of training, a resumed run's earlier ones included
}

// Run trains cfg.Stage: it picks the starting weights (the resume state
// when cfg.Resume finds one, else cfg.Init, else for SFT the pretrain
// checkpoint in OutDir, else random), gives every rank rank 0's weights,
// runs the Trainer, and at every save point rank 0 writes Paths' files.
// When ctx is cancelled it saves a resume point and returns ctx.Err().
func Run(ctx context.Context, cfg Config) (res *Result, err error) {
	kind, err := StageKind(cfg.Stage)
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.Data == nil:
		return nil, errors.New("train: no dataset")
	case cfg.Data.Kind() != kind:
		return nil, fmt.Errorf("train: %s needs %v data, the dataset holds %v", cfg.Stage, kind, cfg.Data.Kind())
	case cfg.Data.Len() == 0:
		return nil, errors.New("train: no training examples")
	case cfg.Backend == nil:
		return nil, errors.New("train: no backend")
	case !(cfg.Options.LearningRate >= 0) || math.IsInf(cfg.Options.LearningRate, 0):
		return nil, fmt.Errorf("train: learning rate %g: want a finite number, at least 0", cfg.Options.LearningRate)
	case !(cfg.Options.GradClip >= 0) || math.IsInf(cfg.Options.GradClip, 0):
		return nil, fmt.Errorf("train: grad clip %g: want a finite number, at least 0", cfg.Options.GradClip)
	case cfg.Stage == StageDPO && cfg.Eval != nil:
		return nil, errors.New("train: held-out evaluation (--eval_data) scores cross-entropy, not DPO pairs: drop it for dpo")
	case cfg.Options.SkipNonfinite < 0:
		return nil, fmt.Errorf("train: skip_nonfinite %d: want at least 0", cfg.Options.SkipNonfinite)
	}
	dtype := strings.ToUpper(cfg.SaveDType)
	switch safetensors.DType(dtype) {
	case safetensors.F16, safetensors.BF16, safetensors.F32:
	default:
		return nil, fmt.Errorf("train: save dtype %q: want f16, bf16 or f32", cfg.SaveDType)
	}
	rank, world := 0, 1
	if cfg.Comm != nil {
		rank, world = cfg.Comm.Rank(), cfg.Comm.Size()
	}
	rank0 := rank == 0
	logf := func(format string, a ...any) {
		if rank0 && cfg.OnLog != nil {
			cfg.OnLog(fmt.Sprintf(format, a...))
		}
	}
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return nil, err
	}
	if rank0 {
		// A run killed mid-save leaves its temp files; only rank 0 writes
		// here, and only files untouched for StaleAge are taken.
		removed, err := atomicfile.CleanStale(cfg.OutDir, "", atomicfile.StaleAge)
		if len(removed) > 0 {
			logf("removed %d stale temp files of a killed run from %s", len(removed), cfg.OutDir)
		}
		if err != nil {
			logf("warning: cleaning stale temp files: %v", err)
		}
	}
	resumePath, err := cfg.findResume()
	if err != nil {
		return nil, err
	}
	params, resume, source, err := cfg.weights(resumePath, logf)
	if err != nil {
		return nil, err
	}
	if err := cfg.checkExplicit(&params.Config, source); err != nil {
		return nil, err
	}
	if cfg.Tokenizer != nil && cfg.Tokenizer.VocabSize() != params.Config.VocabSize {
		return nil, fmt.Errorf("train: the tokenizer has %d tokens but the model (%s) has vocab_size %d: %w",
			cfg.Tokenizer.VocabSize(), source, params.Config.VocabSize, ErrArchitecture)
	}
	// Files are named after the model trained, not the flags.
	paths := cfg.PathsFor(&params.Config)
	if world > 1 && resume == nil {
		// Identical initial weights on every rank: rank 0's.
		if err := cfg.Comm.Broadcast(ctx, params.Data, 0); err != nil {
			return nil, fmt.Errorf("broadcast initial weights: %w", err)
		}
	}
	o := cfg.Options
	o.MaxSeqLen = cfg.Data.MaxSeqLen() // a prepared file's own, which wins
	if maxPos := params.Config.MaxPositionEmbeddings; o.MaxSeqLen-1 > maxPos {
		// Every path (new model, Init, the pretrain checkpoint, a resume
		// state) comes through here; the kernels would index past the RoPE
		// tables.
		return nil, fmt.Errorf("train: --max_seq_len %d (%d positions per sample) %w %d of the model (from %s): use --max_seq_len %d or less",
			o.MaxSeqLen, o.MaxSeqLen-1, ErrMaxSeqLen, maxPos, source, maxPos+1)
	}
	rows := o.BatchSize
	if kind == data.KindDPO {
		rows *= 2 // chosen and rejected
	}
	if err := checkMemory(&params.Config, rows, o.MaxSeqLen-1, cfg.MemAvailable); err != nil {
		return nil, err
	}
	var changes []string
	if resume != nil {
		changes = scheduleChanges(resume.Options, o)
		if len(changes) > 0 && !cfg.AllowChangedSchedule {
			return nil, fmt.Errorf("train: resume from %s: %s (saved → now): %w; rerun with the saved values, or pass --allow_changed_schedule to continue with the new ones",
				paths.Resume, strings.Join(changes, ", "), ErrChangedSchedule)
		}
	}
	if cfg.Data, err = reasonData(&cfg, &params.Config); err != nil {
		return nil, err
	}
	loader, err := data.NewLoader(cfg.Data, data.LoaderOptions{
		BatchSize: o.BatchSize, Seed: o.Seed, Shuffle: o.Shuffle,
		Rank: rank, World: world, Workers: cfg.Workers,
	})
	if err != nil {
		return nil, err
	}
	tr := &Trainer{Model: model.New(params, cfg.Backend), Loader: loader, Opt: NewAdamW(params, o.AdamW), Options: o}
	if world > 1 {
		tr.Comm = cfg.Comm
	}
	var setup *Setup // the objective beyond Options, kept in the resume state
	if cfg.Stage == StageDPO {
		d, ref, err := cfg.dpoStep(tr.Model)
		if err != nil {
			return nil, err
		}
		setup = &Setup{DPO: &DPOSetup{Loss: d.Opts.Loss, Beta: d.Opts.Beta, Reference: weightsID(ref, d.Ref.Params.Data)}}
		tr.Micro = d.Step
		logf("dpo: %s loss, beta %g, reference model %s", d.Opts.Loss, d.Opts.Beta, ref)
	}
	if cfg.Stage == StageDistill {
		d, err := cfg.distiller(tr.Model)
		if err != nil {
			return nil, err
		}
		setup = &Setup{Distill: &DistillSetup{Teacher: weightsID(cfg.Distill.Teacher, d.Teacher.Params.Data), Alpha: d.Loss.Alpha, Temperature: d.Loss.Temperature}}
		tr.Micro = d.Micro(tr.Model)
		logf("distill: alpha %g, temperature %g, teacher %s", d.Loss.Alpha, d.Loss.Temperature, cfg.Distill.Teacher)
	}
	if resume != nil {
		if err := checkSetup(paths.Resume, resume.Setup, setup); err != nil {
			return nil, err
		}
		if err := tr.Restore(resume, 0); err != nil {
			return nil, err
		}
		if len(changes) > 0 {
			logf("resume: continuing with a changed schedule (--allow_changed_schedule): %s (saved → now)%s",
				strings.Join(changes, ", "), lrJump(resume, tr, cfg.Data.Len(), world))
		}
	}
	if cfg.Device != nil {
		if tr.Micro != nil || (o.thinkWeight() != 1 && params.Config.UseMoE) {
			return nil, fmt.Errorf("train: the device-resident trainer runs pretraining and SFT; %s and MoE think weights train on the CPU backend", cfg.Stage)
		}
		d, err := cfg.Device(params, o.BatchSize, cfg.Data.MaxSeqLen()-1)
		if err != nil {
			return nil, err
		}
		if _, ok := d.(GradReducer); world > 1 && !ok {
			return nil, fmt.Errorf("train: %s cannot sum gradients across %d ranks", d.Name(), world)
		}
		if err := d.Load(params.Data, tr.Opt.M, tr.Opt.V, tr.Opt.T); err != nil {
			return nil, fmt.Errorf("train: %s: %w", d.Name(), err)
		}
		tr.Device = d
	}
	res = &Result{
		Start: Start{
			Model: params.Config, Params: len(params.Data), Source: source, Step: tr.Step,
			StepsPerEpoch: tr.StepsPerEpoch(), TotalSteps: tr.TotalSteps(),
		},
		Paths: paths,
	}
	title := "MiniMind-Go " + cfg.Stage
	if cfg.PlotTitle != nil {
		title = cfg.PlotTitle(&res.Model)
	}
	tokSaved := cfg.Tokenizer == nil
	r := &recording{Stage: cfg.Stage, Metrics: paths.Metrics, Plot: paths.Plot, Title: title,
		Eval: cfg.Eval, OnEval: cfg.OnEval, Logf: logf, OnStep: cfg.OnStep, OnSave: cfg.OnSave,
		Start: func() {
			if cfg.OnStart != nil {
				cfg.OnStart(res.Start)
			}
			if cfg.OnMicro != nil {
				total := tr.TotalSteps()
				tr.OnMicro = func(k, n int) { cfg.OnMicro(Micro{Step: tr.Step + 1, Total: total, K: k, N: n}) }
			}
		},
		Write: func(st *ResumeState) error {
			if !tokSaved {
				// The tokenizer travels with the checkpoints: loaders of a
				// .pth look in its directory first.
				if err := cfg.Tokenizer.Save(cfg.OutDir); err != nil {
					return err
				}
				tokSaved = true
			}
			if err := checkpoint.SavePth(paths.Weights, params, dtype); err != nil {
				return err
			}
			st.Setup = setup
			return SaveResume(paths.Resume, st)
		},
	}
	if res.Steps, err = r.run(ctx, tr, rank0); err != nil {
		return nil, err
	}
	res.Elapsed = tr.Elapsed()
	return res, nil
}

// scheduleChanges lists the options of now that differ from saved and
// change the batches or the learning-rate schedule, as "--flag saved →
// now". A saved 0 in a field older files lack (batch size, max_seq_len)
// is not a change. The seed and shuffle are checked by the loader, the
// world size by Restore: those cannot change at all.
func scheduleChanges(saved, now Options) []string {
	var out []string
	add := func(flag string, a, b any) { out = append(out, fmt.Sprintf("--%s %v → %v", flag, a, b)) }
	if saved.Epochs != now.Epochs {
		add("epochs", saved.Epochs, now.Epochs)
	}
	if saved.BatchSize != 0 && saved.BatchSize != now.BatchSize {
		add("batch_size", saved.BatchSize, now.BatchSize)
	}
	if max(1, saved.Accumulation) != max(1, now.Accumulation) {
		add("accumulation_steps", saved.Accumulation, now.Accumulation)
	}
	if saved.MaxSeqLen != 0 && saved.MaxSeqLen != now.MaxSeqLen {
		add("max_seq_len", saved.MaxSeqLen, now.MaxSeqLen)
	}
	if saved.LearningRate != now.LearningRate {
		add("learning_rate", saved.LearningRate, now.LearningRate)
	}
	if saved.WarmupIters != now.WarmupIters {
		add("warmup_iters", saved.WarmupIters, now.WarmupIters)
	}
	if saved.GradClip != now.GradClip {
		add("grad_clip", saved.GradClip, now.GradClip)
	}
	if saved.thinkWeight() != now.thinkWeight() {
		add("think_weight", saved.thinkWeight(), now.thinkWeight())
	}
	if saved.AdamW != now.AdamW {
		add("adamw", fmt.Sprintf("%+v", saved.AdamW), fmt.Sprintf("%+v", now.AdamW))
	}
	return out
}

// lrJump describes how the resumed run's schedule differs at its next
// step from the saved run's: total steps and learning rate.
func lrJump(st *ResumeState, tr *Trainer, n, world int) string {
	so := st.Options
	if so.BatchSize < 1 {
		return "" // an older file: the saved run's length is unknown
	}
	g, a := so.BatchSize*world, max(1, so.Accumulation)
	oldTotal := so.Epochs * (((n+g-1)/g + a - 1) / a) // as Trainer.TotalSteps
	newTotal := tr.TotalSteps()
	return fmt.Sprintf("; at step %d the run's length goes from %d to %d steps and the learning rate from %.3g to %.3g",
		st.Step+1, oldTotal, newTotal,
		LR(st.Step, oldTotal, so.WarmupIters, so.LearningRate), LR(st.Step, newTotal, tr.Options.WarmupIters, tr.Options.LearningRate))
}

// findResume returns the resume state's path: the one named by the flags'
// architecture, or else the only resume state of Stage in OutDir (a run of
// another size, resumed without repeating its flags). It is "" when Resume
// is off. Architecture flags given (Explicit) that name a missing file
// while another resume state of Stage is there contradict it: an error
// naming both.
func (c *Config) findResume() (string, error) {
	if !c.Resume {
		return "", nil
	}
	want := c.Paths().Resume
	prefix, suffix := weightPrefix(c.Stage), "_resume.safetensors"
	if _, err := os.Stat(want); err != nil && len(c.Explicit) > 0 {
		if found := c.candidates(prefix, suffix); len(found) > 0 {
			var flags []string
			for _, f := range archFields {
				if slices.Contains(c.Explicit, f.name) {
					flags = append(flags, fmt.Sprintf("--%s %v", f.name, f.get(&c.Model)))
				}
			}
			return "", fmt.Errorf("train: --resume with %s: %s is not there, but %s is: %w (drop the architecture flags to resume it, or --resume to start afresh)",
				strings.Join(flags, " "), want, strings.Join(found, ", "), ErrArchitecture)
		}
	}
	return c.findFile(want, prefix, suffix)
}

// findFile returns want when it exists; else, when the architecture flags
// were not given (Explicit is empty), the only file of OutDir named
// prefix<hidden>[_moe]suffix; else want (missing). Several candidates are
// an error listing them: which one is meant is the user's call.
func (c *Config) findFile(want, prefix, suffix string) (string, error) {
	if _, err := os.Stat(want); err == nil || len(c.Explicit) > 0 {
		return want, nil
	}
	found := c.candidates(prefix, suffix)
	switch len(found) {
	case 0:
		return want, nil
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("train: %s not found, and %s holds %d candidates (%s): pass the architecture flags (--hidden_size, --use_moe) of the one to use, or --init FILE",
		want, c.OutDir, len(found), strings.Join(found, ", "))
}

// candidates returns OutDir's files named prefix<hidden>[_moe]suffix.
func (c *Config) candidates(prefix, suffix string) []string {
	all, _ := filepath.Glob(filepath.Join(c.OutDir, prefix+"*"+suffix))
	var found []string
	for _, f := range all {
		mid := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), prefix), suffix)
		mid = strings.TrimSuffix(mid, "_moe")
		if mid != "" && strings.Trim(mid, "0123456789") == "" {
			found = append(found, f)
		}
	}
	return found
}

// archFields are the architecture settings Explicit may name, with their
// values in a config.
var archFields = []struct {
	name string
	get  func(*model.Config) any
}{
	{"hidden_size", func(c *model.Config) any { return c.HiddenSize }},
	{"num_hidden_layers", func(c *model.Config) any { return c.NumHiddenLayers }},
	{"num_attention_heads", func(c *model.Config) any { return c.NumAttentionHeads }},
	{"num_key_value_heads", func(c *model.Config) any { return c.NumKeyValueHeads }},
	{"intermediate_size", func(c *model.Config) any { return c.IntermediateSize }},
	{"vocab_size", func(c *model.Config) any { return c.VocabSize }},
	{"max_position_embeddings", func(c *model.Config) any { return c.MaxPositionEmbeddings }},
	{"use_moe", func(c *model.Config) any { return c.UseMoE }},
}

// checkExplicit returns ErrArchitecture when an architecture setting the
// user gave differs from got, the model loaded from source.
func (c *Config) checkExplicit(got *model.Config, source string) error {
	var bad []string
	for _, f := range archFields {
		for _, e := range c.Explicit {
			if e != f.name {
				continue
			}
			if want, have := f.get(&c.Model), f.get(got); want != have {
				bad = append(bad, fmt.Sprintf("--%s %v but %s has %s %v", f.name, want, source, f.name, have))
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("train: %s: %w (drop the flag to train the file's model)", strings.Join(bad, "; "), ErrArchitecture)
	}
	return nil
}

// weights returns the starting weights, in order of precedence: the resume
// state (when asked for and present), Init, for SFT the pretrain checkpoint
// in OutDir, random. source names the choice.
func (c *Config) weights(resumePath string, logf func(string, ...any)) (p *model.Params, resume *ResumeState, source string, err error) {
	mc := c.Model
	if c.Resume {
		resume, err = LoadResume(resumePath)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			logf("no resume state at %s: starting fresh", resumePath)
			resume = nil
		case err != nil:
			return nil, nil, "", err
		default:
			// Restore copies the saved weights into this slab.
			p, err = model.NewParams(resume.Config)
			return p, resume, fmt.Sprintf("%s (step %d)", resumePath, resume.Step), err
		}
	}
	if c.Stage == StageDistill {
		path, err := c.studentPath()
		if err != nil {
			return nil, nil, "", err
		}
		p, err = checkpoint.Load(path, mc)
		return p, nil, path, err
	}
	if c.Init != "" || c.Stage == StageDPO {
		path, err := c.referencePath()
		if err != nil {
			return nil, nil, "", err
		}
		p, err = checkpoint.Load(path, mc)
		return p, nil, path, err
	}
	if c.Stage == StageSFT {
		pre := filepath.Join(c.OutDir, WeightName(StagePretrain, &mc)+".pth")
		found, err := c.findFile(pre, weightPrefix(StagePretrain), ".pth")
		if err != nil {
			return nil, nil, "", err
		}
		if _, serr := os.Stat(found); serr == nil {
			p, err = checkpoint.Load(found, mc)
			return p, nil, found, err
		}
		logf("warning: %s not found; fine-tuning a randomly initialised model", pre)
	}
	if p, err = model.NewParams(mc); err != nil {
		return nil, nil, "", err
	}
	p.Init(c.Options.Seed)
	return p, nil, fmt.Sprintf("random init (seed %d)", c.Options.Seed), nil
}
