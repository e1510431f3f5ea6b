package train

import (
	"errors"
	"fmt"
	"math"

	"github.com/minimind-go/minimind/model"
)

// StagePPO is PPO with an actor, a frozen reference and a critic
// (upstream trainer/train_ppo.py).
const StagePPO = "ppo"

// PPOOptions are train_ppo.py's PPO hyper-parameters (upstream HEAD
// defaults in DefaultPPO).
type PPOOptions struct {
	Gamma, Lam     float64 // GAE discount and λ (--gamma, --lam)
	ClipEpsilon    float64 // policy ratio clip (--clip_epsilon)
	VFCoef         float64 // value-loss weight (--vf_coef)
	KLCoef         float64 // k3 KL-to-reference weight (--kl_coef)
	ClipRangeValue float64 // value clip around the rollout's values (--cliprange_value)
	EarlyStopKL    float64 // approx-KL that stops the PPO epochs (--early_stop_kl)
	UpdateIters    int     // PPO epochs over one rollout batch (--ppo_update_iters)
	MiniBatch      int     // rows per PPO minibatch (--mini_batch_size)
}

// DefaultPPO is upstream HEAD's train_ppo.py defaults.
func DefaultPPO() PPOOptions {
	return PPOOptions{Gamma: 1, Lam: 0.95, ClipEpsilon: 0.2, VFCoef: 0.5, KLCoef: 0.02,
		ClipRangeValue: 0.2, EarlyStopKL: 0.25, UpdateIters: 2, MiniBatch: 2}
}

// Validate checks the values, naming the flag.
func (o PPOOptions) Validate() error {
	switch {
	case !(o.Gamma >= 0 && o.Gamma <= 1):
		return fmt.Errorf("train: --gamma %g: want 0..1", o.Gamma)
	case !(o.Lam >= 0 && o.Lam <= 1):
		return fmt.Errorf("train: --lam %g: want 0..1", o.Lam)
	case !(o.ClipEpsilon > 0 && o.ClipEpsilon < 1):
		return fmt.Errorf("train: --clip_epsilon %g: want a number in (0,1)", o.ClipEpsilon)
	case !(o.VFCoef >= 0) || math.IsInf(o.VFCoef, 0):
		return fmt.Errorf("train: --vf_coef %g: want a finite number >= 0", o.VFCoef)
	case !(o.KLCoef >= 0) || math.IsInf(o.KLCoef, 0):
		return fmt.Errorf("train: --kl_coef %g: want a finite number >= 0", o.KLCoef)
	case !(o.ClipRangeValue > 0) || math.IsInf(o.ClipRangeValue, 0):
		return fmt.Errorf("train: --cliprange_value %g: want a finite number above 0", o.ClipRangeValue)
	case !(o.EarlyStopKL > 0):
		return fmt.Errorf("train: --early_stop_kl %g: want a number above 0", o.EarlyStopKL)
	case o.UpdateIters < 1:
		return fmt.Errorf("train: --ppo_update_iters %d: want at least 1", o.UpdateIters)
	case o.MiniBatch < 1:
		return fmt.Errorf("train: --mini_batch_size %d: want at least 1", o.MiniBatch)
	}
	return nil
}

// PPOResponseMask is upstream's response mask for B responses padded to R
// tokens: n[b] real tokens each; the length is up to and including the
// first eos, else n[b], at least 1; mask[b,t] = t < length && t < n[b].
func PPOResponseMask(resp []int32, n []int, B, R int, eos int32) (lengths []int, mask []float32) {
	lengths, mask = make([]int, B), make([]float32, B*R)
	for b := 0; b < B; b++ {
		L := n[b]
		for t := 0; t < n[b]; t++ {
			if resp[b*R+t] == eos {
				L = t + 1
				break
			}
		}
		lengths[b] = max(L, 1)
		for t := 0; t < min(lengths[b], n[b]); t++ {
			mask[b*R+t] = 1
		}
	}
	return lengths, mask
}

// GAE is upstream's token-level generalised advantage estimation over
// [B,R]: values are the rollout's masked values (V_R = 0),
// delta_t = r_t + γ·V_{t+1} − V_t, A_t = delta_t + γλ·A_{t+1};
// returns = A + values. Accumulated in float64.
func GAE(rewards, values []float32, B, R int, gamma, lam float64) (adv, returns []float32) {
	adv, returns = make([]float32, B*R), make([]float32, B*R)
	for b := 0; b < B; b++ {
		var last float64
		for t := R - 1; t >= 0; t-- {
			var next float64
			if t < R-1 {
				next = float64(values[b*R+t+1])
			}
			delta := float64(rewards[b*R+t]) + gamma*next - float64(values[b*R+t])
			last = delta + gamma*lam*last
			adv[b*R+t] = float32(last)
			returns[b*R+t] = float32(last + float64(values[b*R+t]))
		}
	}
	return adv, returns
}

// Whiten normalises adv in place over the masked tokens of the whole batch,
// (A − mean)·rsqrt(var + 1e-8)·mask (biased variance), and returns the
// mean and variance before whitening.
func Whiten(adv, mask []float32) (mean, variance float64) {
	var s, m float64
	for i, a := range adv {
		s += float64(a) * float64(mask[i])
		m += float64(mask[i])
	}
	m = max(m, 1)
	mean = s / m
	var v float64
	for i, a := range adv {
		d := float64(a) - mean
		v += d * d * float64(mask[i])
	}
	variance = v / m
	r := 1 / math.Sqrt(variance+1e-8)
	for i, a := range adv {
		adv[i] = float32((float64(a) - mean) * r * float64(mask[i]))
	}
	return mean, variance
}

// PPOActorLoss is upstream's actor loss on one minibatch (all slices
// [n], masked means over mask):
//
//	ratio  = exp(logp − old)
//	policy = mean(max(−A·ratio, −A·clamp(ratio, 1−ε, 1+ε))) + kl·mean(exp(ref−logp) − (ref−logp) − 1)
//
// It also returns the k3 term alone, approx-KL mean(½(logp − old)²) and
// the clipped fraction, and writes d(policy)/d(logp) into dlogp. Ties of
// the max split the gradient in half, as torch.max does.
func PPOActorLoss(dlogp, logp, old, ref, adv, mask []float32, eps, klCoef float64) (policy, klRef, approxKL, clipfrac float64) {
	var msum float64
	for _, m := range mask {
		msum += float64(m)
	}
	msum = max(msum, 1)
	var pg float64
	for i, m := range mask {
		lr := float64(logp[i]) - float64(old[i])
		ratio := math.Exp(lr)
		A := float64(adv[i])
		cr := min(max(ratio, 1-eps), 1+eps)
		u, c := -A*ratio, -A*cr
		d := float64(ref[i]) - float64(logp[i])
		w := float64(m) / msum
		pg += max(u, c) * w
		klRef += (math.Exp(d) - d - 1) * w
		approxKL += 0.5 * lr * lr * w
		if math.Abs(ratio-1) > eps {
			clipfrac += w
		}
		// d/dlogp: ratio' = ratio; clamp passes the gradient inside
		// [1−ε, 1+ε] (bounds included, as torch.clamp).
		du := -A * ratio
		dc := 0.0
		if ratio >= 1-eps && ratio <= 1+eps {
			dc = du
		}
		var g float64
		switch {
		case u > c:
			g = du
		case c > u:
			g = dc
		default:
			g = 0.5 * (du + dc)
		}
		// k3: d/dlogp (exp(ref−logp) − (ref−logp) − 1) = 1 − exp(ref−logp).
		g += klCoef * (1 - math.Exp(d))
		dlogp[i] = float32(g * w)
	}
	return pg + klCoef*klRef, klRef, approxKL, clipfrac
}

// PPOValueLoss is upstream's clipped value loss (slices [n], masked mean):
//
//	0.5·mean(max((v − ret)², (clamp(v, old−c, old+c) − ret)²))
//
// writing d(loss)/d(v) into dv.
func PPOValueLoss(dv, v, old, ret, mask []float32, clip float64) float64 {
	var msum float64
	for _, m := range mask {
		msum += float64(m)
	}
	msum = max(msum, 1)
	var loss float64
	for i, m := range mask {
		x, o, r := float64(v[i]), float64(old[i]), float64(ret[i])
		cv := min(max(x, o-clip), o+clip)
		a, b := x-r, cv-r
		w := float64(m) / msum
		loss += 0.5 * max(a*a, b*b) * w
		da := 2 * a
		db := 0.0
		if x >= o-clip && x <= o+clip {
			db = 2 * b
		}
		var g float64
		switch {
		case a*a > b*b:
			g = da
		case b*b > a*a:
			g = db
		default:
			g = 0.5 * (da + db)
		}
		dv[i] = float32(0.5 * g * w)
	}
	return loss
}

// PPORollout is one batch of B rollouts laid out for the update: row b
// of IDs [B,T] is prompt ++ response, right-padded with Pad (causal
// attention: padding after a row changes nothing before it, and RoPE is
// relative, so this equals upstream's left padding). Per-token arrays are
// [B,R]; Pos[b,t] is the position whose output predicts response token t.
type PPORollout struct {
	B, T, R int
	IDs     []int32
	Pos     []int32
	Resp    []int32
	Lengths []int
	Mask    []float32
	Rewards []float64 // [B] sequence rewards

	OldLogp, RefLogp, OldValues []float32
	TokenRewards, Adv, Returns  []float32
	AdvMean, AdvVar             float64 // before whitening
}

// NewPPORollout lays out prompts and responses (response token ids, eos
// included when generated) with their rewards.
func NewPPORollout(prompts, responses [][]int32, rewards []float64, pad, eos int32) (*PPORollout, error) {
	B := len(prompts)
	if B == 0 || len(responses) != B || len(rewards) != B {
		return nil, fmt.Errorf("train: ppo rollout: %d prompts, %d responses, %d rewards", B, len(responses), len(rewards))
	}
	P, R := 0, 1
	for b := range prompts {
		if len(prompts[b]) == 0 {
			return nil, fmt.Errorf("train: ppo rollout: prompt %d is empty", b)
		}
		P, R = max(P, len(prompts[b])), max(R, len(responses[b]))
	}
	r := &PPORollout{B: B, T: P + R, R: R, Rewards: rewards}
	r.IDs = make([]int32, B*r.T)
	r.Pos, r.Resp = make([]int32, B*R), make([]int32, B*R)
	n := make([]int, B)
	for b := range prompts {
		row := r.IDs[b*r.T : (b+1)*r.T]
		for i := range row {
			row[i] = pad
		}
		k := copy(row, prompts[b])
		copy(row[k:], responses[b])
		n[b] = len(responses[b])
		for t := 0; t < R; t++ {
			r.Pos[b*R+t] = int32(len(prompts[b]) - 1 + t)
			r.Resp[b*R+t] = pad
			if t < n[b] {
				r.Resp[b*R+t] = responses[b][t]
			}
		}
	}
	r.Lengths, r.Mask = PPOResponseMask(r.Resp, n, B, R, eos)
	return r, nil
}

// rows returns the ids [len(inds),T] of the given rollout rows, and their
// per-position targets (−1 except at response positions).
func (r *PPORollout) rows(inds []int) (ids, targets []int32) {
	T, R := r.T, r.R
	ids, targets = make([]int32, len(inds)*T), make([]int32, len(inds)*T)
	for i := range targets {
		targets[i] = -1
	}
	for j, b := range inds {
		copy(ids[j*T:(j+1)*T], r.IDs[b*T:(b+1)*T])
		for t := 0; t < R; t++ {
			targets[j*T+int(r.Pos[b*R+t])] = r.Resp[b*R+t]
		}
	}
	return ids, targets
}

// gather picks, for rollout rows inds, the [n,R] per-token values out of
// per-position values src [len(inds),T].
func (r *PPORollout) gather(dst, src []float32, inds []int) {
	for j, b := range inds {
		for t := 0; t < r.R; t++ {
			dst[j*r.R+t] = src[j*r.T+int(r.Pos[b*r.R+t])]
		}
	}
}

// pick copies rows inds of a [B,R] array.
func (r *PPORollout) pick(src []float32, inds []int) []float32 {
	out := make([]float32, 0, len(inds)*r.R)
	for _, b := range inds {
		out = append(out, src[b*r.R:(b+1)*r.R]...)
	}
	return out
}

// PPO holds the three models of a PPO run: the actor (trained), the
// frozen reference and the critic (trained).
type PPO struct {
	Actor, Ref *model.Model
	Critic     *model.Critic
	Opts       PPOOptions
}

// logProbs runs m in inference mode over rollout rows inds and returns
// the response log-probs [n,R].
func (p *PPO) logProbs(m *model.Model, r *PPORollout, inds []int) ([]float32, error) {
	ids, targets := r.rows(inds)
	n := len(inds)
	logits, err := m.Logits(ids, n, r.T, nil, 0)
	if err != nil {
		return nil, err
	}
	all := make([]float32, n*r.T)
	model.TokenLogProbs(all, logits, targets, m.Config.VocabSize)
	out := make([]float32, n*r.R)
	r.gather(out, all, inds)
	return out, nil
}

func allRows(B int) []int {
	inds := make([]int, B)
	for i := range inds {
		inds[i] = i
	}
	return inds
}

// Prepare is upstream's rollout side: old log-probs (actor), reference
// log-probs, the critic's values, token rewards on the last response
// token, GAE and whitened advantages.
func (p *PPO) Prepare(r *PPORollout) error {
	inds := allRows(r.B)
	var err error
	if r.OldLogp, err = p.logProbs(p.Actor, r, inds); err != nil {
		return fmt.Errorf("train: ppo old log-probs: %w", err)
	}
	if r.RefLogp, err = p.logProbs(p.Ref, r, inds); err != nil {
		return fmt.Errorf("train: ppo reference log-probs: %w", err)
	}
	ids, _ := r.rows(inds)
	vals, err := p.Critic.Values(ids, r.B, r.T)
	if err != nil {
		return fmt.Errorf("train: ppo values: %w", err)
	}
	r.OldValues = make([]float32, r.B*r.R)
	r.gather(r.OldValues, vals, inds)
	for i, m := range r.Mask {
		r.OldValues[i] *= m
	}
	r.TokenRewards = make([]float32, r.B*r.R)
	for b := 0; b < r.B; b++ {
		r.TokenRewards[b*r.R+r.Lengths[b]-1] += float32(r.Rewards[b])
	}
	r.Adv, r.Returns = GAE(r.TokenRewards, r.OldValues, r.B, r.R, p.Opts.Gamma, p.Opts.Lam)
	r.AdvMean, r.AdvVar = Whiten(r.Adv, r.Mask)
	return nil
}

// errPPOStop aborts the actor's backward pass of a stopped minibatch.
var errPPOStop = errors.New("ppo: approx-KL above early_stop_kl")

// PPOStats are one minibatch's losses (upstream's logged terms).
type PPOStats struct {
	Loss, Policy, Value, KLRef, ApproxKL, ClipFrac, Aux float64
	Stop                                                bool // approx-KL passed --early_stop_kl
}

// Minibatch runs one PPO minibatch over rollout rows inds: actor and
// critic forward+backward, ADDING scale·d(loss) to the actor's Grads and
// the critic's Grads and HeadGrad, with loss = policy + vf_coef·value +
// aux. When approx-KL exceeds EarlyStopKL, Stop is set and, as upstream
// (which multiplies the loss by 0), nothing is added.
func (p *PPO) Minibatch(r *PPORollout, inds []int, scale float32) (PPOStats, error) {
	n, R, V := len(inds), r.R, p.Actor.Config.VocabSize
	ids, targets := r.rows(inds)
	mask, old, ref := r.pick(r.Mask, inds), r.pick(r.OldLogp, inds), r.pick(r.RefLogp, inds)
	adv, ret, oldV := r.pick(r.Adv, inds), r.pick(r.Returns, inds), r.pick(r.OldValues, inds)
	var st PPOStats

	// Actor first (upstream runs the critic first; the order does not
	// change a number): its approx-KL decides whether the critic's
	// gradient counts.
	all := make([]float32, n*r.T)
	logp, dlogp := make([]float32, n*R), make([]float32, n*R)
	as, err := p.Actor.ForwardBackwardLogits(ids, n, r.T, scale, func(logits, dlogits []float32) (float64, error) {
		model.TokenLogProbs(all, logits, targets, V)
		r.gather(logp, all, inds)
		st.Policy, st.KLRef, st.ApproxKL, st.ClipFrac = PPOActorLoss(dlogp, logp, old, ref, adv, mask, p.Opts.ClipEpsilon, p.Opts.KLCoef)
		if st.ApproxKL > p.Opts.EarlyStopKL {
			// An error from grad leaves the gradients untouched, the MoE
			// balance loss's included: upstream's stopped loss is ×0.
			st.Stop = true
			return 0, errPPOStop
		}
		for j, b := range inds {
			for t := 0; t < R; t++ {
				g := dlogp[j*R+t]
				if g == 0 {
					continue
				}
				i := j*r.T + int(r.Pos[b*R+t])
				row, drow := logits[i*V:(i+1)*V], dlogits[i*V:(i+1)*V]
				tg := targets[i]
				// d logp[tg] / d logits = onehot(tg) − softmax.
				lse := float64(row[tg]) - float64(all[i])
				for k, x := range row {
					drow[k] -= g * float32(math.Exp(float64(x)-lse))
				}
				drow[tg] += g
			}
		}
		return st.Policy, nil
	})
	if err != nil && !st.Stop {
		return st, fmt.Errorf("train: ppo actor: %w", err)
	}
	st.Aux = as.Aux
	cscale := scale
	if st.Stop {
		cscale = 0
	}
	vals := make([]float32, n*R)
	dvals := make([]float32, n*R)
	_, err = p.Critic.ForwardBackward(ids, n, r.T, cscale, func(v, dv []float32) (float64, error) {
		r.gather(vals, v, inds)
		st.Value = PPOValueLoss(dvals, vals, oldV, ret, mask, p.Opts.ClipRangeValue)
		for j, b := range inds {
			for t := 0; t < R; t++ {
				dv[j*r.T+int(r.Pos[b*R+t])] += float32(p.Opts.VFCoef) * dvals[j*R+t]
			}
		}
		return st.Value, nil
	})
	if err != nil {
		return st, fmt.Errorf("train: ppo critic: %w", err)
	}
	st.Loss = st.Policy + p.Opts.VFCoef*st.Value + st.Aux
	return st, nil
}
