// Package ref is the reference kernels.Backend: plain, single-threaded loops
// that are obviously right. It is the oracle the conformance suite compares
// every other backend against, and it is never used for real work.
// Reductions accumulate in float64 so that ref is at least as accurate as
// any fast backend.
package ref

import (
	"math"

	"github.com/minimind-go/minimind/kernels"
)

// Backend is the reference implementation.
type Backend struct{}

var _ kernels.Backend = Backend{}

// New returns the reference backend.
func New() Backend { return Backend{} }

// Name implements kernels.Backend.
func (Backend) Name() string { return "ref" }

func check(ok bool, what string) {
	if !ok {
		panic("kernels/ref: " + what)
	}
}

// MatMul implements kernels.Backend.
func (Backend) MatMul(c, a, b []float32, m, n, k int, transA, transB, accumulate bool) {
	check(len(a) >= m*k && len(b) >= k*n && len(c) >= m*n, "MatMul: short slice")
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				av := a[i*k+p]
				if transA {
					av = a[p*m+i]
				}
				bv := b[p*n+j]
				if transB {
					bv = b[j*k+p]
				}
				s += float64(av) * float64(bv)
			}
			if accumulate {
				c[i*n+j] += float32(s)
			} else {
				c[i*n+j] = float32(s)
			}
		}
	}
}

// EmbeddingForward implements kernels.Backend.
func (Backend) EmbeddingForward(out []float32, ids []int32, table []float32, N, C int) {
	for i := 0; i < N; i++ {
		copy(out[i*C:(i+1)*C], table[int(ids[i])*C:(int(ids[i])+1)*C])
	}
}

// EmbeddingBackward implements kernels.Backend.
func (Backend) EmbeddingBackward(dTable []float32, ids []int32, dOut []float32, N, C int) {
	for i := 0; i < N; i++ {
		row := dTable[int(ids[i])*C : (int(ids[i])+1)*C]
		for j := range row {
			row[j] += dOut[i*C+j]
		}
	}
}

// RMSNormForward implements kernels.Backend.
func (Backend) RMSNormForward(out, rstd, in, w []float32, N, C int, eps float32) {
	for i := 0; i < N; i++ {
		x := in[i*C : (i+1)*C]
		var ss float64
		for _, v := range x {
			ss += float64(v) * float64(v)
		}
		r := float32(1 / math.Sqrt(ss/float64(C)+float64(eps)))
		rstd[i] = r
		for j, v := range x {
			out[i*C+j] = w[j] * (v * r)
		}
	}
}

// RMSNormBackward implements kernels.Backend.
//
// With n = x·r (r = rstd) and y = w⊙n:
// dw += dy⊙n;  dx = r·(w⊙dy) − r³·x·mean(x⊙w⊙dy)
//
//	= r·(g − n·mean(g⊙n)) with g = w⊙dy.
func (Backend) RMSNormBackward(dIn, dW, dOut, in, w, rstd []float32, N, C int) {
	for i := 0; i < N; i++ {
		x := in[i*C : (i+1)*C]
		dy := dOut[i*C : (i+1)*C]
		r := float64(rstd[i])
		var dot float64
		for j := range x {
			n := float64(x[j]) * r
			g := float64(w[j]) * float64(dy[j])
			dot += g * n
			dW[j] += float32(float64(dy[j]) * n)
		}
		dot /= float64(C)
		for j := range x {
			n := float64(x[j]) * r
			g := float64(w[j]) * float64(dy[j])
			dIn[i*C+j] += float32(r * (g - n*dot))
		}
	}
}

func rope(x []float32, pos []int32, cos, sin []float32, N, NH, HS int, sign float32) {
	half := HS / 2
	for i := 0; i < N; i++ {
		c := cos[int(pos[i])*half : (int(pos[i])+1)*half]
		s := sin[int(pos[i])*half : (int(pos[i])+1)*half]
		for h := 0; h < NH; h++ {
			v := x[(i*NH+h)*HS : (i*NH+h+1)*HS]
			for j := 0; j < half; j++ {
				a, b := v[j], v[j+half]
				v[j] = a*c[j] - b*sign*s[j]
				v[j+half] = b*c[j] + a*sign*s[j]
			}
		}
	}
}

// RoPEForward implements kernels.Backend.
func (Backend) RoPEForward(x []float32, pos []int32, cos, sin []float32, N, NH, HS int) {
	rope(x, pos, cos, sin, N, NH, HS, 1)
}

// RoPEBackward implements kernels.Backend: the transpose of a rotation is
// the rotation by the opposite angle.
func (Backend) RoPEBackward(dx []float32, pos []int32, cos, sin []float32, N, NH, HS int) {
	rope(dx, pos, cos, sin, N, NH, HS, -1)
}

// maskNeg is the additive padding mask of the original (finite, so rows
// with every key masked stay finite).
const maskNeg = float32(-1e9)

// scores computes the scaled scores of query (b,t,h) against keys [0, P+t],
// in float32 exactly as the original adds the mask.
func scores(dst []float64, q, k, mask []float32, b, t, h, S, P, NH, NKV, HS, T int) []float64 {
	// P is row b's past length.
	scale := 1 / math.Sqrt(float64(HS))
	kh := h / (NH / NKV)
	qv := q[((b*T+t)*NH+h)*HS:][:HS]
	dst = dst[:0]
	for j := 0; j <= P+t; j++ {
		kv := k[((b*S+j)*NKV+kh)*HS:][:HS]
		var s float64
		for d := range qv {
			s += float64(qv[d]) * float64(kv[d])
		}
		s32 := float32(s * scale)
		if mask != nil {
			s32 += (1 - mask[b*S+j]) * maskNeg
		}
		dst = append(dst, float64(s32))
	}
	return dst
}

// AttentionForward implements kernels.Backend.
func (Backend) AttentionForward(out, lse, q, k, v, mask []float32, past []int32, B, T, S, NH, NKV, HS int) {
	var sc []float64
	for b := 0; b < B; b++ {
		P := 0
		if past != nil {
			P = int(past[b])
		}
		check(P+T <= S, "AttentionForward: past+T > S")
		for t := 0; t < T; t++ {
			for h := 0; h < NH; h++ {
				sc = scores(sc, q, k, mask, b, t, h, S, P, NH, NKV, HS, T)
				mx := math.Inf(-1)
				for _, s := range sc {
					mx = math.Max(mx, s)
				}
				var sum float64
				for _, s := range sc {
					sum += math.Exp(s - mx)
				}
				l := mx + math.Log(sum)
				lse[(b*NH+h)*T+t] = float32(l)
				o := out[((b*T+t)*NH+h)*HS:][:HS]
				acc := make([]float64, HS)
				kh := h / (NH / NKV)
				for j, s := range sc {
					p := math.Exp(s - l)
					vv := v[((b*S+j)*NKV+kh)*HS:][:HS]
					for d := range acc {
						acc[d] += p * float64(vv[d])
					}
				}
				for d := range o {
					o[d] = float32(acc[d])
				}
			}
		}
	}
}

// AttentionBackward implements kernels.Backend.
//
// With p_j = exp(s_j − lse): dv_j += p_j·do; dp_j = do·v_j;
// ds_j = p_j·(dp_j − do·o); dq += scale·Σ ds_j k_j; dk_j += scale·ds_j q.
func (Backend) AttentionBackward(dq, dk, dv, dOut, out, lse, q, k, v, mask []float32, B, T, NH, NKV, HS int) {
	scale := 1 / math.Sqrt(float64(HS))
	var sc []float64
	for b := 0; b < B; b++ {
		for t := 0; t < T; t++ {
			for h := 0; h < NH; h++ {
				sc = scores(sc, q, k, mask, b, t, h, T, 0, NH, NKV, HS, T)
				l := float64(lse[(b*NH+h)*T+t])
				kh := h / (NH / NKV)
				row := ((b*T+t)*NH + h) * HS
				do := dOut[row : row+HS]
				o := out[row : row+HS]
				qv := q[row : row+HS]
				var D float64
				for d := range do {
					D += float64(do[d]) * float64(o[d])
				}
				for j, s := range sc {
					p := math.Exp(s - l)
					kvOff := ((b*T+j)*NKV + kh) * HS
					var dp float64
					for d := 0; d < HS; d++ {
						dp += float64(do[d]) * float64(v[kvOff+d])
						dv[kvOff+d] += float32(p * float64(do[d]))
					}
					ds := p * (dp - D) * scale
					for d := 0; d < HS; d++ {
						dq[row+d] += float32(ds * float64(k[kvOff+d]))
						dk[kvOff+d] += float32(ds * float64(qv[d]))
					}
				}
			}
		}
	}
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// SwiGLUForward implements kernels.Backend.
func (Backend) SwiGLUForward(out, gate, up []float32, n int) {
	for i := 0; i < n; i++ {
		g := float64(gate[i])
		out[i] = float32(g * sigmoid(g) * float64(up[i]))
	}
}

// SwiGLUBackward implements kernels.Backend.
// silu'(g) = σ(g)·(1 + g·(1 − σ(g))).
func (Backend) SwiGLUBackward(dGate, dUp, dOut, gate, up []float32, n int) {
	for i := 0; i < n; i++ {
		g := float64(gate[i])
		s := sigmoid(g)
		dUp[i] += float32(float64(dOut[i]) * g * s)
		dGate[i] += float32(float64(dOut[i]) * float64(up[i]) * s * (1 + g*(1-s)))
	}
}

// Add implements kernels.Backend.
func (Backend) Add(out, a, b []float32, n int) {
	for i := 0; i < n; i++ {
		out[i] = a[i] + b[i]
	}
}

func logSumExp(x []float32) float64 {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, float64(v))
	}
	var s float64
	for _, v := range x {
		s += math.Exp(float64(v) - mx)
	}
	return mx + math.Log(s)
}

// CrossEntropyForward implements kernels.Backend.
func (Backend) CrossEntropyForward(losses, logits []float32, targets []int32, N, V int) {
	for i := 0; i < N; i++ {
		if targets[i] < 0 {
			losses[i] = 0
			continue
		}
		row := logits[i*V : (i+1)*V]
		losses[i] = float32(logSumExp(row) - float64(row[targets[i]]))
	}
}

// CrossEntropyBackward implements kernels.Backend.
func (Backend) CrossEntropyBackward(dLogits, logits []float32, targets []int32, dLoss []float32, N, V int) {
	for i := 0; i < N; i++ {
		row := logits[i*V : (i+1)*V]
		drow := dLogits[i*V : (i+1)*V]
		if targets[i] < 0 {
			clear(drow)
			continue
		}
		l := logSumExp(row)
		d := float64(dLoss[i])
		for j := range row {
			p := math.Exp(float64(row[j]) - l)
			if int32(j) == targets[i] {
				p--
			}
			drow[j] = float32(d * p)
		}
	}
}

// MoERoute implements kernels.Backend.
func (Backend) MoERoute(probs, topW []float32, topIdx []int32, logits []float32, N, E, K int, norm bool) {
	for i := 0; i < N; i++ {
		row := logits[i*E : (i+1)*E]
		l := logSumExp(row)
		p := probs[i*E : (i+1)*E]
		for e := range row {
			p[e] = float32(math.Exp(float64(row[e]) - l))
		}
		used := make([]bool, E)
		var sum float64
		for s := 0; s < K; s++ {
			best := -1
			for e := 0; e < E; e++ {
				if !used[e] && (best < 0 || p[e] > p[best]) {
					best = e
				}
			}
			used[best] = true
			topIdx[i*K+s] = int32(best)
			topW[i*K+s] = p[best]
			sum += float64(p[best])
		}
		if norm && K > 1 {
			den := float32(sum) + 1e-20
			for s := 0; s < K; s++ {
				topW[i*K+s] /= den
			}
		}
	}
}

// MoERouteBackward implements kernels.Backend.
//
// With w_s = p_s/Z (Z = Σ_sel p + 1e-20) when normalising:
// dp_s = dw_s/Z − Σ_r dw_r·w_r/Z. Then softmax: dl_e = p_e·(dp_e − Σ p·dp).
func (Backend) MoERouteBackward(dLogits, dTopW, dProbs, probs, topW []float32, topIdx []int32, N, E, K int, norm bool) {
	dp := make([]float64, E)
	for i := 0; i < N; i++ {
		for e := range dp {
			dp[e] = 0
			if dProbs != nil {
				dp[e] = float64(dProbs[i*E+e])
			}
		}
		p := probs[i*E : (i+1)*E]
		if norm && K > 1 {
			var z float64
			for s := 0; s < K; s++ {
				z += float64(p[topIdx[i*K+s]])
			}
			z += 1e-20
			var c float64
			for s := 0; s < K; s++ {
				c += float64(dTopW[i*K+s]) * float64(p[topIdx[i*K+s]]) / z
			}
			for s := 0; s < K; s++ {
				dp[topIdx[i*K+s]] += (float64(dTopW[i*K+s]) - c) / z
			}
		} else {
			for s := 0; s < K; s++ {
				dp[topIdx[i*K+s]] += float64(dTopW[i*K+s])
			}
		}
		var dot float64
		for e := 0; e < E; e++ {
			dot += float64(p[e]) * dp[e]
		}
		for e := 0; e < E; e++ {
			dLogits[i*E+e] += float32(float64(p[e]) * (dp[e] - dot))
		}
	}
}

// Gather implements kernels.Backend.
func (Backend) Gather(out, in []float32, rows []int32, w []float32, M, C int) {
	for i := 0; i < M; i++ {
		src := in[int(rows[i])*C : (int(rows[i])+1)*C]
		s := float32(1)
		if w != nil {
			s = w[i]
		}
		for j := range src {
			out[i*C+j] = s * src[j]
		}
	}
}

// ScatterAdd implements kernels.Backend.
func (Backend) ScatterAdd(out, in []float32, rows []int32, w []float32, M, C int) {
	for i := 0; i < M; i++ {
		dst := out[int(rows[i])*C : (int(rows[i])+1)*C]
		s := float32(1)
		if w != nil {
			s = w[i]
		}
		for j := range dst {
			dst[j] += s * in[i*C+j]
		}
	}
}

// RowDot implements kernels.Backend.
func (Backend) RowDot(out, a []float32, rows []int32, b []float32, M, C int) {
	for i := 0; i < M; i++ {
		var s float64
		for j := 0; j < C; j++ {
			s += float64(a[int(rows[i])*C+j]) * float64(b[i*C+j])
		}
		out[i] += float32(s)
	}
}

// SumSquares implements kernels.Backend.
func (Backend) SumSquares(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return s
}

// Scale implements kernels.Backend.
func (Backend) Scale(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}

// Zero implements kernels.Backend.
func (Backend) Zero(x []float32) { clear(x) }

// AdamW implements kernels.Backend, in torch.optim.AdamW's order of
// operations (single-tensor path, fp32).
func (Backend) AdamW(p, g, m, v []float32, lr, beta1, beta2, eps, wd float32, t int) {
	bc1 := 1 - math.Pow(float64(beta1), float64(t))
	bc2 := 1 - math.Pow(float64(beta2), float64(t))
	stepSize := float32(float64(lr) / bc1)
	bc2Sqrt := float32(math.Sqrt(bc2))
	for i := range p {
		p[i] *= 1 - lr*wd
		m[i] = beta1*m[i] + (1-beta1)*g[i]
		v[i] = beta2*v[i] + (1-beta2)*g[i]*g[i]
		denom := float32(math.Sqrt(float64(v[i])))/bc2Sqrt + eps
		p[i] -= stepSize * m[i] / denom
	}
}
