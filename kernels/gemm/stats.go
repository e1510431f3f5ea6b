package gemm

import "fmt"

// statKey identifies a blocked product for the pool's statistics by its
// transposes and the two dimensions a weight fixes: the varying token
// count is left out, so a MoE expert's products fall under one name
// whatever the routing sent it.
type statKey struct {
	transA, transB bool
	d1, d2         int
}

// StatName implements parallel.Named: "gemm.NT ·×1536×512" is m×n×k of
// C = A·Bᵀ with m (the rows, "·") varying; "gemm.TN 1536×512×·" is
// C = Aᵀ·B with k varying. In a linear layer y = x·Wᵀ these are the
// forward (NT), dx = dy·W (NN) and dW = dyᵀ·x (TN) products.
func (j *job) StatName() string {
	k := statKey{j.transA, j.transB, j.n, j.k}
	if j.transA {
		k.d1, k.d2 = j.m, j.n
	}
	g := j.g
	if s, ok := g.statNames[k]; ok {
		return s
	}
	op := opLetter(k.transA) + opLetter(k.transB)
	var s string
	if k.transA {
		s = fmt.Sprintf("gemm.%s %d×%d×·", op, k.d1, k.d2)
	} else {
		s = fmt.Sprintf("gemm.%s ·×%d×%d", op, k.d1, k.d2)
	}
	if g.statNames == nil {
		g.statNames = map[statKey]string{}
	}
	g.statNames[k] = s
	return s
}

// StatFLOPs implements parallel.Counted: the compute phase does 2·m·n·k;
// packing op(B) does none.
func (j *job) StatFLOPs() float64 {
	if j.phase != phaseCompute {
		return 0
	}
	return 2 * float64(j.m) * float64(j.n) * float64(j.k)
}

func opLetter(trans bool) string {
	if trans {
		return "T"
	}
	return "N"
}
