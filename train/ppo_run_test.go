package train_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
	"github.com/minimind-go/minimind/reward"
	"github.com/minimind-go/minimind/tokenizer"
	"github.com/minimind-go/minimind/train"
)

// lengthReward scores a response by its length in bytes: a signal any
// tiny model can follow.
type lengthReward struct{}

func (lengthReward) Score(_ context.Context, b []reward.Sample) ([]float64, error) {
	out := make([]float64, len(b))
	for i, s := range b {
		out[i] = min(float64(len(s.Response))/20, 3)
	}
	return out, nil
}

// ppoRunConfig is a PPO run over 6 RLAIF prompts (batch 2: 3 steps) with
// a tiny model on the default tokenizer.
func ppoRunConfig(t *testing.T, dir string) train.PPOConfig {
	tok, err := tokenizer.Default()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rlaif.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := range 6 {
		fmt.Fprintf(w, `{"conversations":[{"role":"user","content":"what is %d+%d?"},{"role":"assistant","content":"%d"}]}`+"\n", i, i+1, 2*i+1)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	enc, err := data.NewEncoder(tok, data.EncodeOptions{MaxSeqLen: 64})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := data.LoadJSONL(context.Background(), []string{path}, data.KindRLAIF, enc, data.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mc := modeltest.TinyConfig3(false)
	mc.VocabSize, mc.MaxPositionEmbeddings = tok.VocabSize(), 96
	o := train.DefaultPPOOptions()
	o.LearningRate, o.SaveInterval, o.MaxSeqLen = 1e-3, 1, 64
	return train.PPOConfig{Init: modeltest.Params(t, mc, 3), Options: o, CriticLR: 1e-3, PPO: train.DefaultPPO(),
		MaxGenLen: 8, Temperature: 0.8, Data: ds, Tokenizer: tok, Reward: lengthReward{},
		Backend: cpu.New(cpu.Options{Threads: 1}), OutDir: dir, SaveDType: "F32"}
}

// TestPPORun: three steps write the actor, the critic (with its value
// head), metrics.jsonl with the PPO terms; a run killed after step 1 and
// resumed ends with exactly the weights of the uninterrupted run.
func TestPPORun(t *testing.T) {
	dir := t.TempDir()
	c := ppoRunConfig(t, dir)
	steps, err := train.RunPPO(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 3 {
		t.Fatalf("%d steps, want 3", len(steps))
	}
	for _, s := range steps {
		if s.ValueLoss <= 0 || s.Reward <= 0 || s.RespLen < 1 || s.LR <= 0 || s.RolloutTPS <= 0 {
			t.Errorf("step %d: %+v", s.Step.Step, s)
		}
	}
	mc := c.Init.Config
	paths := c.Paths(&mc)
	full, err := checkpoint.Load(paths.Actor, mc)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(full.Data, c.Init.Data) {
		t.Error("the actor did not change")
	}
	names, _, vals, err := checkpoint.ReadLoRATensors(paths.Critic)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names, model.ValueHeadWeightName) || len(vals[model.ValueHeadBiasName]) != 1 {
		t.Errorf("critic file holds %v", names)
	}
	raw, err := os.ReadFile(paths.Metrics)
	if err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	sc := bufio.NewScanner(bytes.NewReader(raw))
	n := 0
	for sc.Scan() {
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		n++
	}
	for _, k := range []string{"reward", "policy_loss", "value_loss", "kl_ref", "approx_kl", "stage", "lr"} {
		if _, ok := line[k]; !ok {
			t.Errorf("metrics.jsonl line lacks %q: %v", k, line)
		}
	}
	if n != 3 || line["stage"] != "ppo" {
		t.Errorf("%d metrics lines, last %v", n, line)
	}

	// Kill after step 1, resume.
	dir2 := t.TempDir()
	c2 := ppoRunConfig(t, dir2)
	ctx, cancel := context.WithCancel(context.Background())
	c2.OnStep = func(s train.PPOStep) {
		if s.Step.Step == 1 {
			cancel()
		}
	}
	if _, err := train.RunPPO(ctx, c2); !errors.Is(err, context.Canceled) {
		t.Fatalf("killed run: %v", err)
	}
	c2.OnStep, c2.Resume = nil, true
	steps2, err := train.RunPPO(context.Background(), c2)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps2) != 3 {
		t.Errorf("resumed run reports %d steps, want 3", len(steps2))
	}
	resumed, err := checkpoint.Load(c2.Paths(&mc).Actor, mc)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(resumed.Data, full.Data) {
		t.Error("the resumed run's actor differs from the uninterrupted run's")
	}
	if steps2[0].Reward != steps[0].Reward || steps2[2].Reward != steps[2].Reward {
		t.Errorf("rewards %g, %g after resume; %g, %g uninterrupted", steps2[0].Reward, steps2[2].Reward, steps[0].Reward, steps[2].Reward)
	}
}
