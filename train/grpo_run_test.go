package train_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
	"github.com/minimind-go/minimind/tokenizer"
	"github.com/minimind-go/minimind/train"
)

// The addition task on a tiny vocabulary: BOS a + b = → the digits of a+b,
// then EOS.
const (
	addBOS, addEOS, addPlus, addEq, addDigit0 = 1, 2, 20, 21, 10
)

func addPrompt(a, b int) []int32 {
	return []int32{addBOS, int32(addDigit0 + a), addPlus, int32(addDigit0 + b), addEq}
}

func addAnswer(a, b int) []int32 {
	s := a + b
	if s >= 10 {
		return []int32{int32(addDigit0 + s/10), int32(addDigit0 + s%10), addEOS}
	}
	return []int32{int32(addDigit0 + s), addEOS}
}

// sampleRollout samples with full forward passes (train may not import
// generate; the engine is wired by cmd): temperature sampling, PCG(seed).
func sampleRollout(m *model.Model) train.RolloutFunc {
	V := m.Config.VocabSize
	return func(_ context.Context, prompts [][]int32, seeds []uint64, temp float64, maxNew int) ([]train.Completion, error) {
		out := make([]train.Completion, len(prompts))
		for i, p := range prompts {
			rng := rand.New(rand.NewPCG(seeds[i], 7))
			seq := append([]int32(nil), p...)
			for range maxNew {
				logits, err := m.Logits(seq, 1, len(seq), nil, 1)
				if err != nil {
					return nil, err
				}
				mx := logits[0]
				for _, x := range logits[:V] {
					mx = max(mx, x)
				}
				var z float64
				pr := make([]float64, V)
				for v := range V {
					pr[v] = math.Exp(float64(logits[v]-mx) / temp)
					z += pr[v]
				}
				u, tok := rng.Float64()*z, V-1
				for v := range V {
					if u -= pr[v]; u < 0 {
						tok = v
						break
					}
				}
				seq = append(seq, int32(tok))
				if tok == addEOS {
					break
				}
			}
			out[i] = train.Completion{IDs: seq[len(p):]}
		}
		return out, nil
	}
}

// sftAddition trains m with the masked cross-entropy on the answers for
// steps AdamW steps of 16 examples.
func sftAddition(t *testing.T, m *model.Model, steps int, lr float64) {
	opt := train.NewAdamW(m.Params, train.DefaultAdamW())
	rng := rand.New(rand.NewPCG(1, 2))
	const B, T = 16, 7
	for range steps {
		ids, tg, mask := make([]int32, B*T), make([]int32, B*T), make([]float32, B*T)
		for r := range B {
			a, b := rng.IntN(10), rng.IntN(10)
			seq := append(addPrompt(a, b), addAnswer(a, b)...)
			for j := range T {
				if j < len(seq) {
					ids[r*T+j] = seq[j]
				}
				if j+1 < len(seq) {
					tg[r*T+j] = seq[j+1]
					if j >= 4 {
						mask[r*T+j] = 1
					}
				}
			}
		}
		m.ZeroGrad()
		if _, err := m.ForwardBackward(ids, tg, mask, B, T, 1); err != nil {
			t.Fatal(err)
		}
		train.ClipGradNorm(m.Backend(), m.Grads, 1)
		opt.Step(m.Backend(), m.Params.Data, m.Grads, float32(lr))
	}
}

func addScore(tok *tokenizer.Tokenizer) train.ScoreFunc {
	eos := tok.Decode([]int32{addEOS})
	return func(_ context.Context, _, rs, as []string) ([]float64, error) {
		out := make([]float64, len(rs))
		for i, r := range rs {
			if strings.TrimSuffix(r, eos) == as[i] && strings.HasSuffix(r, eos) {
				out[i] = 1
			}
		}
		return out, nil
	}
}

func addPrompts(tok *tokenizer.Tokenizer, pairs [][2]int) []train.GRPOPrompt {
	var ps []train.GRPOPrompt
	for i, p := range pairs {
		ans := addAnswer(p[0], p[1])
		ps = append(ps, train.GRPOPrompt{IDs: addPrompt(p[0], p[1]), Text: tok.Decode(addPrompt(p[0], p[1])), Answer: tok.Decode(ans[:len(ans)-1]), Line: i + 1})
	}
	return ps
}

// meanReward is the mean reward of n samples per prompt.
func meanReward(t *testing.T, m *model.Model, tok *tokenizer.Tokenizer, ps []train.GRPOPrompt, n int) float64 {
	roll, score := sampleRollout(m), addScore(tok)
	var prompts [][]int32
	var seeds []uint64
	var texts, answers []string
	for i, p := range ps {
		for j := range n {
			prompts, seeds = append(prompts, p.IDs), append(seeds, uint64(1000+i*n+j))
			texts, answers = append(texts, p.Text), append(answers, p.Answer)
		}
	}
	comps, err := roll(context.Background(), prompts, seeds, 0.8, 4)
	if err != nil {
		t.Fatal(err)
	}
	rs := make([]string, len(comps))
	for i, c := range comps {
		rs[i] = tok.Decode(c.IDs)
	}
	r, _ := score(context.Background(), texts, rs, answers)
	var s float64
	for _, x := range r {
		s += x
	}
	return s / float64(len(r))
}

func additionSplit() (trainSet, held [][2]int) {
	for a := range 10 {
		for b := range 10 {
			if (a*10+b)%5 == 0 {
				held = append(held, [2]int{a, b})
			} else {
				trainSet = append(trainSet, [2]int{a, b})
			}
		}
	}
	return trainSet, held
}

// TestGRPOLearnsAddition: a tiny model SFT'd briefly on one-digit sums, then
// GRPO and CISPO with the exact-answer reward, raise the mean reward on
// held-out prompts clearly above the SFT model's (0.444 → 0.625 with
// 160 samples each, both losses: on-policy their gradients are equal).
func TestGRPOLearnsAddition(t *testing.T) {
	if testing.Short() {
		t.Skip("learning check: a few seconds of training")
	}
	tok, err := tokenizer.Default()
	if err != nil {
		t.Fatal(err)
	}
	be := cpu.New(cpu.Options{Threads: 2})
	defer be.Close()
	cfg := modeltest.TinyConfig3(false)
	trainSet, held := additionSplit()
	base := modeltest.Model(t, cfg, 3, be)
	sftAddition(t, base, 150, 3e-3)
	for _, loss := range []string{train.LossCISPO, train.LossGRPO} {
		t.Run(loss, func(t *testing.T) {
			policy := model.New(clone(t, base.Params), be)
			ref := model.New(clone(t, base.Params), be)
			before := meanReward(t, policy, tok, addPrompts(tok, held), 8)
			c := train.DefaultGRPOConfig()
			c.Policy, c.Ref, c.Tokenizer = policy, ref, tok
			c.Prompts, c.Score, c.Rollout = addPrompts(tok, trainSet), addScore(tok), sampleRollout(policy)
			c.Loss.LossType = loss
			c.NumGenerations, c.BatchSize, c.Epochs, c.MaxGenLen = 8, 4, 6, 4
			c.LearningRate, c.SaveInterval, c.OutDir = 5e-4, 0, t.TempDir()
			res, err := train.RunGRPO(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			after := meanReward(t, policy, tok, addPrompts(tok, held), 8)
			n := len(res.Steps)
			t.Logf("%s: held-out mean reward %.3f → %.3f; train reward first %.3f last %.3f over %d updates",
				loss, before, after, res.Steps[0].Reward, res.Steps[n-1].Reward, n)
			if after < before+0.12 {
				t.Errorf("held-out mean reward %.3f after GRPO, %.3f before: want a clear rise", after, before)
			}
			if _, err := os.Stat(filepath.Join(c.OutDir, "grpo_reward.png")); err != nil {
				t.Error(err)
			}
		})
	}
}

func clone(t *testing.T, p *model.Params) *model.Params {
	q, err := model.NewParams(p.Config)
	if err != nil {
		t.Fatal(err)
	}
	copy(q.Data, p.Data)
	return q
}

// TestGRPOResume: a run killed after 2 updates and resumed ends with the
// weights of the uninterrupted run (sampling seeds and the prompt order
// depend on the update only), and metrics.jsonl has each update once.
func TestGRPOResume(t *testing.T) {
	tok, err := tokenizer.Default()
	if err != nil {
		t.Fatal(err)
	}
	be := cpu.New(cpu.Options{Threads: 1})
	defer be.Close()
	cfg := modeltest.TinyConfig3(false)
	trainSet, _ := additionSplit()
	run := func(dir string, epochs, stopAfter int, resume bool) (*model.Model, int) {
		policy, ref := modeltest.Model(t, cfg, 3, be), modeltest.Model(t, cfg, 3, be)
		c := train.DefaultGRPOConfig()
		c.Policy, c.Ref, c.Tokenizer = policy, ref, tok
		c.Prompts, c.Score, c.Rollout = addPrompts(tok, trainSet[:8]), addScore(tok), sampleRollout(policy)
		c.NumGenerations, c.BatchSize, c.Epochs, c.MaxGenLen = 4, 2, epochs, 3
		c.LearningRate, c.SaveInterval, c.OutDir, c.Resume, c.SaveDType = 1e-3, 1, dir, resume, "f32"
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		n := 0
		c.Logf = func(string, ...any) {
			if n++; n == stopAfter {
				cancel()
			}
		}
		res, err := train.RunGRPO(ctx, c)
		if err != nil && (stopAfter == 0 || ctx.Err() == nil) {
			t.Fatal(err)
		}
		return policy, len(res.Steps)
	}
	full, n := run(t.TempDir(), 1, 0, false)
	dir := t.TempDir()
	_, n1 := run(dir, 1, 2, false)
	resumed, n2 := run(dir, 1, 0, true)
	if n != 4 || n1 != 2 || n2 != 2 {
		t.Fatalf("updates: %d uninterrupted, %d before the kill and %d resumed; want 4, 2, 2", n, n1, n2)
	}
	for i, w := range full.Params.Data {
		if resumed.Params.Data[i] != w {
			t.Fatalf("param %d: resumed %g, uninterrupted %g", i, resumed.Params.Data[i], w)
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for k := 1; k <= 4; k++ {
		if n := strings.Count(string(raw), fmt.Sprintf(`"step":%d,`, k)); n != 1 {
			t.Errorf("metrics.jsonl has update %d %d times:\n%s", k, n, raw)
		}
	}
}

// TestGRPOPromptTooLong: a prompt that fills the context window is an
// error naming its data line.
func TestGRPOPromptTooLong(t *testing.T) {
	tok, err := tokenizer.Default()
	if err != nil {
		t.Fatal(err)
	}
	be := cpu.New(cpu.Options{Threads: 1})
	defer be.Close()
	cfg := modeltest.TinyConfig3(false)
	policy := modeltest.Model(t, cfg, 3, be)
	c := train.DefaultGRPOConfig()
	c.Policy, c.Ref, c.Tokenizer, c.Score, c.Rollout = policy, policy, tok, addScore(tok), sampleRollout(policy)
	c.Prompts = []train.GRPOPrompt{{IDs: addPrompt(1, 2), Line: 1}, {IDs: make([]int32, cfg.MaxPositionEmbeddings), Line: 2}}
	c.OutDir = t.TempDir()
	_, err = train.RunGRPO(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "data line 2: the prompt has 64 tokens") {
		t.Fatalf("err %v, want one naming data line 2 and its 64 tokens", err)
	}
}
