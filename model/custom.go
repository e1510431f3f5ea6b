package model

import (
	"fmt"
	"math"
)

// Post-training losses (DPO, distillation) are functions of the logits
// that the masked cross-entropy of ForwardBackward cannot express. They
// share the forward pass and the backward pass from dlogits down: the
// caller computes its loss and d(loss)/d(logits), the model does the rest.

// ForwardBackwardLogits runs one micro-batch [B,T] in training mode, hands
// the logits [B*T, V] to grad, which returns the loss (without the MoE aux)
// and writes d(loss)/d(logits) into dlogits ([B*T, V], zeroed before the
// call), then backpropagates dlogits·scale and the MoE balance loss·scale,
// ADDING to Grads (as ForwardBackward). Stats.Loss = loss + aux, Stats.CE =
// loss, Stats.Aux = aux; Stats.Tokens is 0 (the loss defines its own
// weighting). The logits and dlogits slices are valid only during grad.
// An error from grad is returned wrapped, with Grads untouched.
func (m *Model) ForwardBackwardLogits(ids []int32, B, T int, scale float32,
	grad func(logits, dlogits []float32) (float64, error)) (Stats, error) {
	if err := m.checkBatch(ids, B, T); err != nil {
		return Stats{}, err
	}
	m.EnableGrads()
	p := m.trainPass(B, T)
	p.forward(ids, nil, nil)
	N, V := p.N, m.Config.VocabSize
	logits := p.project(0)
	// dlogits gets its own buffer: the caller reads logits while writing
	// it. Grown once per larger batch, like the activations.
	if len(m.dlogits) < N*V {
		m.dlogits = make([]float32, N*V)
	}
	dlogits := m.dlogits[:N*V]
	m.be.Zero(dlogits)
	loss, err := grad(logits, dlogits)
	if err != nil {
		return Stats{}, fmt.Errorf("model: loss on logits: %w", err)
	}
	// backward starts from the logits buffer holding d(loss)/d(logits)
	// (nil targets: no cross-entropy step).
	for i, d := range dlogits {
		logits[i] = d * scale
	}
	st := Stats{CE: loss}
	for l := range p.a.layers {
		if mo := p.a.layers[l].moe; mo != nil {
			st.Aux += mo.aux
		}
	}
	st.Loss = st.CE + st.Aux
	p.backward(ids, nil, scale)
	return st, nil
}

// TokenLogProbs writes log softmax(logits[i])[targets[i]] into out[i] for
// the N = len(targets) rows of logits [N,V]; negative targets give 0.
// The log-sum-exp is accumulated in float64 (V is 6400 and more).
func TokenLogProbs(out []float32, logits []float32, targets []int32, V int) {
	for i, t := range targets {
		if t < 0 {
			out[i] = 0
			continue
		}
		row := logits[i*V : (i+1)*V]
		mx, logZ := SoftmaxNorm(row)
		out[i] = float32(float64(row[t]-mx) - logZ)
	}
}

// SoftmaxNorm returns the parts of row's log-softmax: its maximum mx and
// logZ = log Σ exp(x − mx), the sum in float64 (V is 6400 and more), so
// that log softmax(row)[j] = (row[j] − mx) − logZ without overflow. Every
// per-token log-prob and cross-entropy written outside the backend's
// kernels shares it.
func SoftmaxNorm(row []float32) (mx float32, logZ float64) {
	mx = row[0]
	for _, x := range row[1:] {
		mx = max(mx, x)
	}
	var s float64
	for _, x := range row {
		s += math.Exp(float64(x - mx))
	}
	return mx, math.Log(s)
}
