package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/kernels"
	"github.com/minimind-go/minimind/model"
)

// params and grads are the slabs the optimizer updates: the model's, or
// with a LoRA attached (model.AttachLoRA) the LoRA's alone, so the frozen
// base has neither gradients nor AdamW moments.
func (t *Trainer) params() []float32 {
	if l := t.Model.LoRA(); l != nil {
		return l.Params
	}
	return t.Model.Params.Data
}

func (t *Trainer) grads() []float32 {
	if l := t.Model.LoRA(); l != nil {
		return l.Grads
	}
	return t.Model.Grads
}

// StageLoRA is the stage name of a LoRA run (metrics.jsonl, the plot).
const StageLoRA = "lora"

// LoRAConfig is one LoRA fine-tuning run, as upstream's train_lora.py: SFT
// data, a frozen base model, and only the adapters trained.
type LoRAConfig struct {
	Name    string         // --lora_name: the file is {OutDir}/{Name}_{hidden}.pth
	Base    *model.Params  // the frozen weights (--init); never written to
	Spec    model.LoRASpec // rank, alpha, targets; Spec.Seed is Options.Seed when 0
	Options Options        // upstream's defaults: DefaultLoRAOptions
	Data    data.Dataset   // SFT examples
	Backend kernels.Backend
	// Comm is the data-parallel group (nil or one rank: one process).
	// Every rank loads the same base and draws the same A from the seed,
	// so no broadcast is needed; rank 0 alone writes files and reports.
	Comm    Reducer
	Workers int
	Eval    *EvalSet
	OutDir  string
	Resume  bool // continue from {Name}_{hidden}_resume.safetensors when it exists
	// MemAvailable as Config's (nil: /proc/meminfo).
	MemAvailable func() (int64, bool)
	// BasePath is where Base came from, named in a resume error when the
	// resumed run's base has other weights (the weights are compared).
	BasePath string

	OnLog   func(msg string)
	OnStart func(LoRAStart)
	OnStep  func(Step)
	OnSave  func(Save)
}

// DefaultLoRAOptions are train_lora.py's defaults: 10 epochs, batch 32,
// lr 1e-4, max_seq_len 340 (SFT's other settings).
func DefaultLoRAOptions() Options {
	o := DefaultSFTOptions()
	o.Epochs, o.BatchSize, o.LearningRate, o.MaxSeqLen = 10, 32, 1e-4, 340
	o.SaveInterval, o.LogInterval = 1000, 10
	return o
}

// LoRAPaths are the files of a LoRA run.
type LoRAPaths struct {
	Weights string // {name}_{hidden}.pth: the adapters only, upstream's save_lora format (fp16)
	Resume  string // {name}_{hidden}_resume.safetensors: fp32 adapters, their AdamW moments and position
	Metrics string
	Plot    string
}

// Paths returns the files for base architecture c (upstream names the
// file after hidden_size, with _moe for an MoE base).
func (c *LoRAConfig) Paths(mc *model.Config) LoRAPaths {
	stem := fmt.Sprintf("%s_%d", c.Name, mc.HiddenSize)
	if mc.UseMoE {
		stem += "_moe"
	}
	stem = filepath.Join(c.OutDir, stem)
	return LoRAPaths{stem + ".pth", stem + "_resume.safetensors",
		filepath.Join(c.OutDir, "metrics.jsonl"), filepath.Join(c.OutDir, "loss_"+c.Name+".png")}
}

// LoRAStart describes a LoRA run about to train.
type LoRAStart struct {
	Modules       []string // the wrapped linears
	LoRAParams    int      // trainable parameters
	BaseParams    int      // frozen parameters
	MemoryBytes   int64    // LoRATrainingBytes
	FullBytes     int64    // TrainingBytes of full fine-tuning, for comparison
	Step          int
	StepsPerEpoch int
	TotalSteps    int
}

// LoRAResult is a finished LoRA run.
type LoRAResult struct {
	LoRAStart
	LoRAPaths
	Steps   []Step
	Elapsed float64
}

// LoRATrainingBytes is TrainingBytes for a LoRA run with n adapter
// parameters: the base weights (4 bytes each, no gradient, no moments),
// the adapters with gradients and both moments (16 bytes each) and the
// activations.
func LoRATrainingBytes(c *model.Config, B, T, n int) int64 {
	return TrainingBytes(c, B, T) - 12*int64(c.NumParams()) + 16*int64(n)
}

// loraResume is a LoRA run's resume metadata: the trainer's state (its
// slabs are the adapters') and the adapters' spec.
type loraResume struct {
	ResumeState
	LoRA model.LoRASpec `json:"lora"`
}

// RunLoRA trains cfg's adapters on a frozen cfg.Base and writes, at every
// save point, the adapter file, the resume state, metrics.jsonl and the
// plot. Cancelling ctx saves a resume point and returns ctx.Err().
func RunLoRA(ctx context.Context, cfg LoRAConfig) (res *LoRAResult, err error) {
	switch {
	case cfg.Base == nil:
		return nil, errors.New("lora: no base model")
	case cfg.Name == "" || strings.ContainsAny(cfg.Name, `/\`):
		return nil, fmt.Errorf("lora: --lora_name %q: want a plain file name", cfg.Name)
	case cfg.Data == nil || cfg.Data.Len() == 0:
		return nil, errors.New("lora: no training examples")
	case cfg.Data.Kind() != data.KindSFT:
		return nil, fmt.Errorf("lora: needs %v data, the dataset holds %v", data.KindSFT, cfg.Data.Kind())
	case cfg.Backend == nil:
		return nil, errors.New("lora: no backend")
	case !(cfg.Options.LearningRate >= 0) || math.IsInf(cfg.Options.LearningRate, 0):
		return nil, fmt.Errorf("lora: learning rate %g: want a finite number, at least 0", cfg.Options.LearningRate)
	}
	rank, world := 0, 1
	if cfg.Comm != nil {
		rank, world = cfg.Comm.Rank(), cfg.Comm.Size()
	}
	logf := func(format string, a ...any) {
		if rank == 0 && cfg.OnLog != nil {
			cfg.OnLog(fmt.Sprintf(format, a...))
		}
	}
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return nil, err
	}
	o := cfg.Options
	o.MaxSeqLen = cfg.Data.MaxSeqLen()
	mc := &cfg.Base.Config
	if o.MaxSeqLen-1 > mc.MaxPositionEmbeddings {
		return nil, fmt.Errorf("lora: --max_seq_len %d (%d positions per sample) %w %d of the base model", o.MaxSeqLen, o.MaxSeqLen-1, ErrMaxSeqLen, mc.MaxPositionEmbeddings)
	}
	spec := cfg.Spec
	if spec.Seed == 0 {
		spec.Seed = o.Seed
	}
	paths := cfg.Paths(mc)
	setup := &Setup{Base: new(weightsID(cfg.BasePath, cfg.Base.Data))}
	var resume *loraResume
	if cfg.Resume {
		if resume, err = loadLoRAResume(paths.Resume, mc); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if resume == nil {
			logf("no resume state at %s: starting fresh", paths.Resume)
		} else {
			// Other adapters or another base: another objective.
			if err := changedSetup(paths.Resume, append(loraChanges(resume.LoRA, spec), setupChanges(resume.Setup, setup)...)); err != nil {
				return nil, err
			}
			if err := changedSchedule(StageLoRA, paths.Resume, scheduleChanges(resume.Options, o)); err != nil {
				return nil, err
			}
			spec = resume.LoRA
		}
	}
	m := model.New(cfg.Base, cfg.Backend)
	l, err := m.AttachLoRA(spec)
	if err != nil {
		return nil, err
	}
	need := LoRATrainingBytes(mc, o.BatchSize, o.MaxSeqLen-1, len(l.Params))
	avail := cfg.MemAvailable
	if avail == nil {
		avail = memAvailable
	}
	if have, ok := avail(); ok && need > have {
		return nil, fmt.Errorf("lora: --batch_size %d × %d positions needs about %s, but %s is available: %w", o.BatchSize, o.MaxSeqLen-1, human(need), human(have), ErrMemory)
	}
	loader, err := data.NewLoader(cfg.Data, data.LoaderOptions{BatchSize: o.BatchSize, Seed: o.Seed, Shuffle: o.Shuffle, Rank: rank, World: world, Workers: cfg.Workers})
	if err != nil {
		return nil, err
	}
	tr := &Trainer{Model: m, Loader: loader, Options: o,
		Opt: &AdamW{Config: o.AdamW, M: make([]float32, len(l.Params)), V: make([]float32, len(l.Params))}}
	if world > 1 {
		tr.Comm = cfg.Comm
	}
	if resume != nil {
		if err := tr.Restore(&resume.ResumeState, 0); err != nil {
			return nil, err
		}
	}
	res = &LoRAResult{
		LoRAStart: LoRAStart{
			Modules: l.Modules(), LoRAParams: len(l.Params), BaseParams: len(cfg.Base.Data),
			MemoryBytes: need, FullBytes: TrainingBytes(mc, o.BatchSize, o.MaxSeqLen-1),
			Step: tr.Step, StepsPerEpoch: tr.StepsPerEpoch(), TotalSteps: tr.TotalSteps(),
		},
		LoRAPaths: paths,
	}
	r := &recording{Stage: StageLoRA, Metrics: paths.Metrics, Plot: paths.Plot, Title: "MiniMind-Go LoRA " + cfg.Name,
		Eval: cfg.Eval, Logf: logf, OnSave: cfg.OnSave,
		Start: func() {
			if cfg.OnStart != nil {
				cfg.OnStart(res.LoRAStart)
			}
		},
		OnStep: func(s Step) {
			if cfg.OnStep != nil {
				s.Stage = StageLoRA
				cfg.OnStep(s)
			}
		},
		Write: func(st *ResumeState) error {
			if err := checkpoint.SaveLoRA(paths.Weights, l, "F16"); err != nil {
				return err
			}
			st.Setup = setup
			return saveLoRAResume(paths.Resume, &loraResume{ResumeState: *st, LoRA: spec})
		},
	}
	if res.Steps, err = r.run(ctx, tr, rank == 0); err != nil {
		return nil, err
	}
	res.Elapsed = tr.Elapsed()
	return res, nil
}

// loraChanges lists the flags whose adapters differ from saved's, as
// "--flag saved → now" (the seed only drew A, which the resume state holds).
func loraChanges(saved, now model.LoRASpec) []string {
	var out []string
	if saved.Rank != now.Rank {
		out = append(out, fmt.Sprintf("--lora_rank %d → %d", saved.Rank, now.Rank))
	}
	if saved.Alpha != now.Alpha {
		out = append(out, fmt.Sprintf("--lora_alpha %g → %g", saved.Alpha, now.Alpha))
	}
	if !slices.Equal(saved.Targets, now.Targets) {
		targets := func(t []string) string {
			if len(t) == 0 {
				return "(default)"
			}
			return strings.Join(t, ",")
		}
		out = append(out, fmt.Sprintf("--lora_targets %s → %s", targets(saved.Targets), targets(now.Targets)))
	}
	return out
}

func saveLoRAResume(path string, st *loraResume) error {
	meta, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("resume %s: %w", path, err)
	}
	return checkpoint.SaveResume(path, &checkpoint.ResumeFile{Meta: meta, Params: st.Params, M: st.M, V: st.V})
}

// loadLoRAResume reads a LoRA run's resume state and checks it against
// the base architecture mc.
func loadLoRAResume(path string, mc *model.Config) (*loraResume, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	f, err := checkpoint.LoadResume(path)
	if err != nil {
		return nil, err
	}
	var st loraResume
	if err := json.Unmarshal(f.Meta, &st); err != nil {
		return nil, fmt.Errorf("%s: resume metadata: %w", path, err)
	}
	if st.LoRA.Rank < 1 {
		return nil, fmt.Errorf("%s: not a LoRA resume state (no lora rank): %w", path, ErrResumeField)
	}
	if st.Config.HiddenSize != mc.HiddenSize || st.Config.NumHiddenLayers != mc.NumHiddenLayers || st.Config.UseMoE != mc.UseMoE {
		return nil, fmt.Errorf("%s: trained on a base with hidden_size %d, %d layers, use_moe %v; this base has %d, %d, %v: %w",
			path, st.Config.HiddenSize, st.Config.NumHiddenLayers, st.Config.UseMoE, mc.HiddenSize, mc.NumHiddenLayers, mc.UseMoE, ErrArchitecture)
	}
	st.Params, st.M, st.V = f.Params, f.M, f.V
	if err := st.check(path); err != nil {
		return nil, err
	}
	return &st, nil
}
