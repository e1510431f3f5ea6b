package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/model"
)

// StageDPO is direct preference optimisation on {"chosen", "rejected"}
// data, from the SFT checkpoint (upstream trainer/train_dpo.py).
const StageDPO = "dpo"

// DPO loss variants (--dpo_loss): how a side's per-token log-probs become
// its sequence score.
const (
	DPOSum  = "sum"  // upstream HEAD (d65ef2c): summed over the assistant mask
	DPOMean = "mean" // the 2510 line (83e52f6): the mean over the assistant mask
)

// DPOOptions are the DPO loss's settings (Config.DPO).
type DPOOptions struct {
	Loss string  // DPOSum or DPOMean ("" is DPOSum)
	Beta float64 // --beta; 0 is the variant's own (DefaultBeta)
}

// DefaultBeta is the β of a loss variant: HEAD's 0.15 for the sum, 2510's
// 0.1 for the mean.
func DefaultBeta(loss string) float64 {
	if loss == DPOMean {
		return 0.1
	}
	return 0.15
}

// resolve fills in the defaults and checks the values.
func (o DPOOptions) resolve() (DPOOptions, error) {
	switch o.Loss {
	case "":
		o.Loss = DPOSum
	case DPOSum, DPOMean:
	default:
		return o, fmt.Errorf("train: --dpo_loss %q: want %s or %s", o.Loss, DPOSum, DPOMean)
	}
	if o.Beta == 0 {
		o.Beta = DefaultBeta(o.Loss)
	}
	if !(o.Beta > 0) || math.IsInf(o.Beta, 0) {
		return o, fmt.Errorf("train: --beta %g: want a finite number above 0", o.Beta)
	}
	return o, nil
}

// DefaultDPOOptions are upstream HEAD's train_dpo.py defaults: 1 epoch, 4
// pairs per micro-batch, lr 4e-8 (a tiny step keeps the policy near the
// reference), max_seq_len 1024.
func DefaultDPOOptions() Options {
	o := DefaultOptions()
	o.Epochs = 1
	o.BatchSize = 4
	o.LearningRate = 4e-8
	o.MaxSeqLen = 1024
	o.SaveInterval = 100
	return o
}

// DPO is the DPO loss as a MicroStep: the batch holds P pairs as 2P rows
// (chosen rows first, data.Batch), the policy is trained and the
// reference model only scored.
//
//	s[b]  = Σ_t logp[b,t]·mask[b,t]         (sum; mean: / max(Σ_t mask, 1e-8))
//	z_k   = (s_pol[c_k] − s_pol[r_k]) − (s_ref[c_k] − s_ref[r_k])
//	loss  = mean_k −logsigmoid(β·z_k)   (+ the policy's MoE aux)
type DPO struct {
	Policy, Ref *model.Model
	Opts        DPOOptions

	lp, refLP  []float32 // [2P·T] per-token log-probs
	sPol, sRef []float64 // [2P] sequence scores
	msum       []float64 // [2P] Σ mask per row
	dS         []float64 // [2P] d loss / d s_pol
	dTok       []float32 // [2P·T] −d loss / d logp, the kernels' dLoss
}

// NewDPO returns the DPO step of policy against ref, which must have the
// same vocabulary.
func NewDPO(policy, ref *model.Model, o DPOOptions) (*DPO, error) {
	o, err := o.resolve()
	if err != nil {
		return nil, err
	}
	if policy.Config.VocabSize != ref.Config.VocabSize {
		return nil, fmt.Errorf("train: dpo: the policy has vocab_size %d, the reference %d: %w",
			policy.Config.VocabSize, ref.Config.VocabSize, ErrArchitecture)
	}
	return &DPO{Policy: policy, Ref: ref, Opts: o}, nil
}

// Step runs one micro-batch: the reference's scores in inference mode (no
// activations kept), then the policy's forward and backward pass through
// Model.ForwardBackwardLogits with the DPO gradient on its logits.
func (d *DPO) Step(_ context.Context, b *data.Batch, scale float32) (model.Stats, Rewards, error) {
	P, B, T, V := b.Pairs, b.B, b.T, d.Policy.Config.VocabSize
	if P < 1 || B != 2*P {
		return model.Stats{}, Rewards{}, fmt.Errorf("dpo: a batch of %d rows and %d pairs: want DPO data (2 rows per pair)", B, P)
	}
	N := B * T
	d.lp, d.refLP, d.dTok = grow(d.lp, N), grow(d.refLP, N), grow(d.dTok, N)
	d.sPol, d.sRef, d.msum, d.dS = grow(d.sPol, B), grow(d.sRef, B), grow(d.msum, B), grow(d.dS, B)
	for r := range B {
		var s float64
		for _, m := range b.LossMask[r*T : (r+1)*T] {
			s += float64(m)
		}
		if s == 0 {
			side, k := "chosen", r
			if r >= P {
				side, k = "rejected", r-P
			}
			ex := k
			if k < len(b.Indices) {
				ex = b.Indices[k]
			}
			return model.Stats{}, Rewards{}, fmt.Errorf("dpo: example %d (0-based, of the data's non-blank lines): the %s side has no assistant tokens in its first %d (empty reply, or the prompt fills --max_seq_len): %w",
				ex, side, T, ErrEmptySpan)
		}
		d.msum[r] = s
	}
	logits, err := d.Ref.Logits(b.X, B, T, nil, 0)
	if err != nil {
		return model.Stats{}, Rewards{}, fmt.Errorf("dpo: reference model: %w", err)
	}
	be := d.Policy.Backend()
	// The kernels' cross-entropy is −log softmax[y], on all cores.
	logProbs := func(out, logits []float32) {
		be.CrossEntropyForward(out, logits, b.Y[:N], N, V)
		for i := range out {
			out[i] = -out[i]
		}
	}
	logProbs(d.refLP, logits)
	d.scores(d.sRef, d.refLP, b)

	beta := d.Opts.Beta
	var rw Rewards
	grad := func(logits, dlogits []float32) (float64, error) {
		logProbs(d.lp, logits)
		d.scores(d.sPol, d.lp, b)
		var loss float64
		for k := range P {
			c, r := k, P+k
			z := (d.sPol[c] - d.sPol[r]) - (d.sRef[c] - d.sRef[r])
			loss += softplus(-beta * z)
			// d/dz −logsigmoid(βz) = −β·sigmoid(−βz), averaged over pairs.
			g := -beta * sigmoid(-beta*z) / float64(P)
			d.dS[c], d.dS[r] = g, -g
			rc, rr := beta*(d.sPol[c]-d.sRef[c]), beta*(d.sPol[r]-d.sRef[r])
			rw.Chosen += rc / float64(P)
			rw.Rejected += rr / float64(P)
			if rc > rr {
				rw.Acc += 1 / float64(P)
			}
		}
		rw.Margin = rw.Chosen - rw.Rejected
		// d s[b] / d logp[b,t] = mask (sum) or mask / Σmask (mean), and
		// d logp / d logits = onehot(y) − softmax: CrossEntropyBackward's
		// dLoss·(softmax − onehot) with dLoss = −d loss / d logp.
		for row := range B {
			g := d.dS[row]
			if d.Opts.Loss == DPOMean {
				g /= max(d.msum[row], 1e-8)
			}
			for t := range T {
				i := row*T + t
				d.dTok[i] = float32(-g * float64(b.LossMask[i]))
			}
		}
		be.CrossEntropyBackward(dlogits, logits, b.Y[:N], d.dTok, N, V)
		return loss / float64(P), nil
	}
	st, err := d.Policy.ForwardBackwardLogits(b.X, B, T, scale, grad)
	if err != nil {
		return model.Stats{}, Rewards{}, fmt.Errorf("dpo: %w", err)
	}
	st.Tokens = float64(P)
	return st, rw, nil
}

// scores sets s[row] from the per-token log-probs lp of b's rows.
func (d *DPO) scores(s []float64, lp []float32, b *data.Batch) {
	T := b.T
	for row := range b.B {
		var sum float64
		for t := range T {
			i := row*T + t
			sum += float64(lp[i]) * float64(b.LossMask[i])
		}
		if d.Opts.Loss == DPOMean {
			sum /= max(d.msum[row], 1e-8)
		}
		s[row] = sum
	}
}

// softplus is log(1+eˣ) = −logsigmoid(−x), without overflow.
func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// referencePath returns the weights a DPO run starts from and scores
// against (sftStart).
func (c *Config) referencePath() (string, error) { return c.sftStart("dpo starts") }

// sftStart returns the weights a post-training run starts from: Init, or
// else OutDir's full_sft_{hidden}[_moe].pth (the only full_sft file there
// when the architecture flags are not given); a missing one is an error
// beginning with who ("dpo starts", ...), never a random start.
func (c *Config) sftStart(who string) (string, error) {
	if c.Init != "" {
		return c.Init, nil
	}
	want := filepath.Join(c.OutDir, WeightName(StageSFT, &c.Model)+".pth")
	found, err := c.findFile(want, weightPrefix(StageSFT), ".pth")
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(found); err != nil {
		return "", fmt.Errorf("train: %s from the SFT model, and %s is not there: run sft first or pass --init FILE", who, want)
	}
	return found, nil
}

// dpoStep loads the frozen reference model (the starting weights, also on
// --resume) and returns the DPO step of policy.
func (c *Config) dpoStep(policy *model.Model) (*DPO, string, error) {
	path, err := c.referencePath()
	if err != nil {
		return nil, "", err
	}
	p, err := checkpoint.Load(path, c.Model)
	if err != nil {
		return nil, "", fmt.Errorf("train: dpo reference model: %w", err)
	}
	if len(p.Data) != len(policy.Params.Data) || p.Config.UseMoE != policy.Config.UseMoE {
		return nil, "", fmt.Errorf("train: dpo: the reference %s (%d parameters) is not the policy's architecture (%d): %w",
			path, len(p.Data), len(policy.Params.Data), ErrArchitecture)
	}
	d, err := NewDPO(policy, model.New(p, policy.Backend()), c.DPO)
	return d, path, err
}

// ErrEmptySpan: a DPO side whose loss mask is empty has no score.
var ErrEmptySpan = errors.New("no assistant span")

// Scores returns the last step's sequence scores of the policy and the
// reference, one per row (chosen rows first). They are reused.
func (d *DPO) Scores() (policy, ref []float64) { return d.sPol, d.sRef }

// PolicyLogProbs and RefLogProbs return the last step's per-token
// log-probs [2P·T] before masking. They are reused.
func (d *DPO) PolicyLogProbs() []float32 { return d.lp }

// RefLogProbs: see PolicyLogProbs.
func (d *DPO) RefLogProbs() []float32 { return d.refLP }
