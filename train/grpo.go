package train

import (
	"context"
	"fmt"
	"math"

	"github.com/minimind-go/minimind/model"
)

// StageGRPO is group-relative policy optimisation on RLAIF prompts
// (upstream trainer/train_grpo.py), with the GRPO or the CISPO loss.
const StageGRPO = "grpo"

// GRPO loss variants (--loss_type).
const (
	LossGRPO  = "grpo"  // PPO-style clipped ratio, clip ε
	LossCISPO = "cispo" // clamped, detached ratio times log-prob (upstream default)
)

// GRPOOptions are the GRPO/CISPO loss settings, upstream HEAD's names.
type GRPOOptions struct {
	LossType    string  // LossCISPO ("" is LossCISPO) or LossGRPO
	Beta        float64 // --beta, the KL weight (0.1)
	Epsilon     float64 // --epsilon, GRPO's clip (0.2)
	EpsilonHigh float64 // --epsilon_high, CISPO's ratio cap (5.0)
}

// DefaultGRPOLossOptions are upstream HEAD's train_grpo.py loss defaults.
func DefaultGRPOLossOptions() GRPOOptions {
	return GRPOOptions{LossType: LossCISPO, Beta: 0.1, Epsilon: 0.2, EpsilonHigh: 5.0}
}

// resolve fills in the loss type and checks the values.
func (o GRPOOptions) resolve() (GRPOOptions, error) {
	switch o.LossType {
	case "":
		o.LossType = LossCISPO
	case LossGRPO, LossCISPO:
	default:
		return o, fmt.Errorf("train: --loss_type %q: want %s or %s", o.LossType, LossCISPO, LossGRPO)
	}
	for _, v := range []struct {
		name string
		x    float64
		pos  bool
	}{{"--beta", o.Beta, false}, {"--epsilon", o.Epsilon, true}, {"--epsilon_high", o.EpsilonHigh, true}} {
		if math.IsNaN(v.x) || math.IsInf(v.x, 0) || v.x < 0 || (v.pos && v.x == 0) {
			return o, fmt.Errorf("train: %s %g: want a finite number >= 0 (> 0 for the clip bounds)", v.name, v.x)
		}
	}
	return o, nil
}

// Rollouts are the completions of one update: B rows of T tokens, each a
// prompt (PromptLen[b] tokens) followed by its completion (CompLen[b]
// tokens) and right padding. Right padding needs no attention mask (causal
// attention never looks ahead) and RoPE scores depend only on relative
// positions, so this equals upstream's left-padded, masked rows.
type Rollouts struct {
	IDs       []int32 // [B*T]
	B, T      int
	PromptLen []int // [B], at least 1
	CompLen   []int // [B]
	// OldLogProbs [B*T]: at position t, log p(IDs[t+1]) under the policy
	// that sampled the completion (read at completion positions only).
	OldLogProbs []float32
	Advantages  []float64 // [B]
	// Eos are the ids that end a completion: the loss covers a completion
	// up to and including the first of them (all of it when there is none).
	Eos []int32
}

// GRPOStats are the means of one update, over the rows (KL and ratio over
// their loss tokens, as the loss weighs them).
type GRPOStats struct {
	model.Stats
	KL       float64 // mean per-token k3 KL to the reference
	Ratio    float64 // mean π/π_old
	Clipped  float64 // fraction of loss tokens whose ratio is clipped (GRPO) or capped (CISPO)
	LossToks int     // tokens the loss covers
}

// GRPO is the GRPO/CISPO update of a policy against a frozen reference.
type GRPO struct {
	Policy, Ref *model.Model
	Opts        GRPOOptions

	targets, ceT []int32
	mask, dTok   []float32
	lp, refLP    []float32
	rowW         []float64
}

// NewGRPO returns the update of policy against ref (same vocabulary).
func NewGRPO(policy, ref *model.Model, o GRPOOptions) (*GRPO, error) {
	o, err := o.resolve()
	if err != nil {
		return nil, err
	}
	if policy.Config.VocabSize != ref.Config.VocabSize {
		return nil, fmt.Errorf("train: grpo: the policy has vocab_size %d, the reference %d: %w",
			policy.Config.VocabSize, ref.Config.VocabSize, ErrArchitecture)
	}
	return &GRPO{Policy: policy, Ref: ref, Opts: o}, nil
}

// prepare checks r and fills the targets and the loss mask.
func (g *GRPO) prepare(r *Rollouts) error {
	B, T := r.B, r.T
	N := B * T
	if B < 1 || T < 2 || len(r.IDs) != N || len(r.PromptLen) != B || len(r.CompLen) != B || len(r.Advantages) != B {
		return fmt.Errorf("train: grpo: rollouts of %d ids, %d prompt lengths, %d completion lengths, %d advantages for [%d,%d]",
			len(r.IDs), len(r.PromptLen), len(r.CompLen), len(r.Advantages), B, T)
	}
	if r.OldLogProbs != nil && len(r.OldLogProbs) != N {
		return fmt.Errorf("train: grpo: %d old log-probs for [%d,%d]", len(r.OldLogProbs), B, T)
	}
	g.targets, g.ceT, g.mask = grow(g.targets, N), grow(g.ceT, N), grow(g.mask, N)
	g.rowW = grow(g.rowW, B)
	for b := range B {
		P, L := r.PromptLen[b], r.CompLen[b]
		if P < 1 || L < 0 || P+L > T {
			return fmt.Errorf("train: grpo: row %d: prompt %d + completion %d tokens in %d positions", b, P, L, T)
		}
		n := L
		for j := range L {
			if containsID(r.Eos, r.IDs[b*T+P+j]) {
				n = j + 1
				break
			}
		}
		for t := range T {
			i := b*T + t
			g.targets[i], g.ceT[i], g.mask[i] = -1, 0, 0
			if t >= P-1 && t < P-1+n {
				g.targets[i], g.ceT[i], g.mask[i] = r.IDs[i+1], r.IDs[i+1], 1
			}
		}
		// upstream: Σ_t loss·mask / max(Σ mask, 1), then the mean over rows.
		g.rowW[b] = 1 / (float64(max(n, 1)) * float64(B))
	}
	return nil
}

func containsID(s []int32, x int32) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// PolicyLogProbs sets r.OldLogProbs from a forward pass of the policy in
// inference mode (upstream rollout_engine.compute_per_token_logps).
func (g *GRPO) PolicyLogProbs(r *Rollouts) error {
	if err := g.prepare(r); err != nil {
		return err
	}
	logits, err := g.Policy.Logits(r.IDs, r.B, r.T, nil, 0)
	if err != nil {
		return fmt.Errorf("train: grpo: old log-probs: %w", err)
	}
	r.OldLogProbs = grow(r.OldLogProbs, r.B*r.T)
	model.TokenLogProbs(r.OldLogProbs, logits, g.targets, g.Policy.Config.VocabSize)
	return nil
}

// Step runs the update's forward and backward pass: the reference's
// log-probs in inference mode, then the policy's through
// Model.ForwardBackwardLogits, ADDING d(loss)/d(params)·scale to its Grads.
//
//	kl    = ref − logp;  k3 = eᵏˡ − kl − 1;  ratio = exp(logp − old)
//	grpo:  ℓ = −(min(ratio·A, clip(ratio, 1−ε, 1+ε)·A) − β·k3)
//	cispo: ℓ = −(min(ratio, ε_high)ᵈᵉᵗᵃᶜʰ·A·logp − β·k3)
//	loss  = mean_b Σ_t ℓ·mask / max(Σ_t mask, 1)   (+ the MoE aux)
func (g *GRPO) Step(_ context.Context, r *Rollouts, scale float32) (GRPOStats, error) {
	if err := g.prepare(r); err != nil {
		return GRPOStats{}, err
	}
	if r.OldLogProbs == nil {
		return GRPOStats{}, fmt.Errorf("train: grpo: no old log-probs (PolicyLogProbs)")
	}
	B, T, V := r.B, r.T, g.Policy.Config.VocabSize
	N := B * T
	g.lp, g.refLP, g.dTok = grow(g.lp, N), grow(g.refLP, N), grow(g.dTok, N)
	logits, err := g.Ref.Logits(r.IDs, B, T, nil, 0)
	if err != nil {
		return GRPOStats{}, fmt.Errorf("train: grpo: reference model: %w", err)
	}
	model.TokenLogProbs(g.refLP, logits, g.targets, V)
	o := g.Opts
	var gs GRPOStats
	grad := func(logits, dlogits []float32) (float64, error) {
		model.TokenLogProbs(g.lp, logits, g.targets, V)
		var loss, kls, ratios, clipped, toks float64
		for i := range N {
			if g.mask[i] == 0 {
				g.dTok[i] = 0
				continue
			}
			b := i / T
			A, w := r.Advantages[b], g.rowW[b]
			lp, ref, old := float64(g.lp[i]), float64(g.refLP[i]), float64(r.OldLogProbs[i])
			kl := ref - lp
			ekl := math.Exp(kl)
			k3 := ekl - kl - 1
			ratio := math.Exp(lp - old)
			var term, dterm float64 // the objective term and d term/d logp
			switch o.LossType {
			case LossGRPO:
				c := min(max(ratio, 1-o.Epsilon), 1+o.Epsilon)
				if c != ratio {
					clipped++
				}
				u, v := ratio*A, c*A
				term = min(u, v)
				if u <= v {
					dterm = ratio * A // the unclipped branch (a tie has the same total)
				}
			default:
				c := min(ratio, o.EpsilonHigh)
				if c != ratio {
					clipped++
				}
				term, dterm = c*A*lp, c*A
			}
			loss += w * -(term - o.Beta*k3)
			// d k3/d logp = 1 − eᵏˡ.
			dl := -(dterm - o.Beta*(1-ekl))
			// CrossEntropyBackward writes dTok·(softmax − onehot) = −dTok·d logp/d logits.
			g.dTok[i] = float32(-dl * w)
			kls += k3
			ratios += ratio
			toks++
		}
		g.Policy.Backend().CrossEntropyBackward(dlogits, logits, g.ceT, g.dTok, N, V)
		if toks > 0 {
			gs.KL, gs.Ratio, gs.Clipped = kls/toks, ratios/toks, clipped/toks
		}
		gs.LossToks = int(toks)
		return loss, nil
	}
	st, err := g.Policy.ForwardBackwardLogits(r.IDs, B, T, scale, grad)
	if err != nil {
		return GRPOStats{}, fmt.Errorf("train: grpo: %w", err)
	}
	gs.Stats = st
	return gs, nil
}

// GroupAdvantages returns upstream's group-normalised advantages of
// rewards laid out as consecutive groups of n: (r − mean)/(std + 1e-4),
// std the population (unbiased=False) standard deviation.
func GroupAdvantages(rewards []float64, n int) ([]float64, error) {
	if n < 1 || len(rewards)%n != 0 {
		return nil, fmt.Errorf("train: grpo: %d rewards in groups of %d", len(rewards), n)
	}
	adv := make([]float64, len(rewards))
	for s := 0; s < len(rewards); s += n {
		grp := rewards[s : s+n]
		var mean float64
		for _, x := range grp {
			mean += x
		}
		mean /= float64(n)
		var v float64
		for _, x := range grp {
			v += (x - mean) * (x - mean)
		}
		std := math.Sqrt(v / float64(n))
		for j, x := range grp {
			adv[s+j] = (x - mean) / (std + 1e-4)
		}
	}
	return adv, nil
}

// LogProbs returns the last Step's per-token log-probs [B*T] of the policy
// and the reference (0 off the loss mask). They are reused.
func (g *GRPO) LogProbs() (policy, ref []float32) { return g.lp, g.refLP }

// Mask returns the last Step's loss mask [B*T] over target positions.
func (g *GRPO) Mask() []float32 { return g.mask }
