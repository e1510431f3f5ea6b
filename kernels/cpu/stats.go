package cpu

// Names for the pool's statistics (parallel.Named): one per kernel, so a
// task type that serves several kernels (ewTask: SwiGLU, Add, Scale, Zero)
// reports each apart. Attention also counts its FLOPs (parallel.Counted).

func dir(back bool, name string) string {
	if back {
		return name + ".bwd"
	}
	return name + ".fwd"
}

// StatName implements parallel.Named.
func (t *embTask) StatName() string { return dir(t.back, "embedding") }

// StatName implements parallel.Named.
func (t *normTask) StatName() string { return dir(t.back, "rmsnorm") }

// StatName implements parallel.Named.
func (t *ropeTask) StatName() string { return dir(t.sign < 0, "rope") }

// StatName implements parallel.Named.
func (t *ceTask) StatName() string {
	if t.fwd && t.back {
		return "cross_entropy.fused"
	}
	return dir(t.back, "cross_entropy")
}

// StatName implements parallel.Named.
func (t *routeTask) StatName() string { return dir(t.back, "moe_route") }

// StatName implements parallel.Named.
func (t *reduceTask) StatName() string { return "sum_squares" }

// StatName implements parallel.Named.
func (t *adamTask) StatName() string { return "adamw" }

// StatName implements parallel.Named.
func (t *ewTask) StatName() string {
	switch t.op {
	case opSwiGLU:
		return "swiglu.fwd"
	case opSwiGLUBack, opSwiGLUBackSet:
		return "swiglu.bwd"
	case opAdd:
		return "add"
	case opScale:
		return "scale"
	}
	return "zero"
}

// StatName implements parallel.Named.
func (t *rowsTask) StatName() string {
	switch t.op {
	case opGather:
		return "gather"
	case opScatter:
		return "scatter_add"
	}
	return "row_dot"
}

// StatName implements parallel.Named.
func (t *attTask) StatName() string { return dir(t.back, "attention") }

// StatFLOPs implements parallel.Counted: the causal products' FLOPs, 2 per
// multiply-add over the keys each query sees (past + t + 1 for query t):
// forward Q·Kᵀ and P·V; backward the recomputed Q·Kᵀ, dO·Vᵀ, dV, dK and
// dQ. The masked halves of diagonal tiles, computed and discarded, do not
// count.
func (t *attTask) StatFLOPs() float64 {
	var pairs float64 // (query, key) pairs over the batch, per head
	for b := 0; b < t.B; b++ {
		p := float64(t.pastOf(b))
		T := float64(t.T)
		pairs += T*p + T*(T+1)/2
	}
	products := 2.0
	if t.back {
		products = 5
	}
	return 2 * products * pairs * float64(t.NH*t.HS)
}
