package model

// TrainFLOPs estimates the floating-point operations of one training step
// (forward + backward) on B sequences of T tokens: 6 per weight per token
// for the matrix products (MoE: the router and the experts actually used),
// plus attention's QKᵀ and PV products counted as PaLM and nanoGPT's MFU
// do: the full T×T products, 4·T·C per token per layer forward and twice
// that backward (12·L·T·C per token in all). The causal kernels compute
// about half of that, so MFU compares with those papers' figures rather
// than counting only the work done.
func TrainFLOPs(c *Config, B, T int) float64 {
	return 3 * ForwardFLOPs(c, B, T)
}

// ForwardFLOPs estimates one forward pass (see TrainFLOPs).
func ForwardFLOPs(c *Config, B, T int) float64 {
	C, F, V := float64(c.HiddenSize), float64(c.IntermediateSize), float64(c.VocabSize)
	kv, q := float64(c.NumKeyValueHeads*c.HeadSize()), float64(c.QDim())
	perTok := 2*C*q + 2*C*kv // q, o, k, v
	ffn := 3 * C * F
	if c.UseMoE {
		ffn = 3 * C * (float64(c.NumExpertsPerTok*c.ExpertSize()) + float64(c.SharedExperts())*F)
		perTok += C * float64(c.Experts())
	}
	perTok += ffn
	perTok *= float64(c.NumHiddenLayers)
	perTok += C * V // LM head
	att := 2 * float64(T) * q * float64(c.NumHiddenLayers)
	return 2 * (perTok + att) * float64(B*T)
}
