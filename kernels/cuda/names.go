package cuda

// kernelID indexes Backend.fn; kernelNames gives each one's extern "C"
// name in src/*.cu (TestKernelNamesInSource keeps the two in step).
type kernelID int

const (
	kEmbeddingForward kernelID = iota
	kScatterAdd
	kGather
	kRowDot
	kSwiGLUForward
	kSwiGLUBackward
	kAdd
	kScale
	kF32ToBF16
	kHalf16ToF32
	kRMSNormForward
	kRMSNormBackwardDx
	kRMSNormBackwardDw
	kRMSNormBackwardDwPartial
	kRoPE
	kAttentionForward
	kAttentionBackwardD
	kAttentionBackwardDq
	kAttentionBackwardDkv
	kCrossEntropyForward
	kCrossEntropyBackward
	kMoERoute
	kMoERouteBackward
	kSumSquaresPartial
	kAdamW
	kLossReduce
	kSumDoubles
	kFill
	kIndexSet
	kF32ToF16
	kMoEGroup
	kMoEBalance
	kMoEBalanceGrad
	kKVStore
	kPositions
	kAdvance
	kEmbeddingBackward
	kMoECombine
	numKernels
)

var kernelNames = [numKernels]string{
	kEmbeddingForward:         "embedding_forward",
	kScatterAdd:               "scatter_add",
	kGather:                   "gather",
	kRowDot:                   "row_dot",
	kSwiGLUForward:            "swiglu_forward",
	kSwiGLUBackward:           "swiglu_backward",
	kAdd:                      "add",
	kScale:                    "scale",
	kF32ToBF16:                "f32_to_bf16",
	kHalf16ToF32:              "half16_to_f32",
	kRMSNormForward:           "rmsnorm_forward",
	kRMSNormBackwardDx:        "rmsnorm_backward_dx",
	kRMSNormBackwardDw:        "rmsnorm_backward_dw",
	kRMSNormBackwardDwPartial: "rmsnorm_backward_dw_partial",
	kRoPE:                     "rope",
	kAttentionForward:         "attention_forward",
	kAttentionBackwardD:       "attention_backward_d",
	kAttentionBackwardDq:      "attention_backward_dq",
	kAttentionBackwardDkv:     "attention_backward_dkv",
	kCrossEntropyForward:      "cross_entropy_forward",
	kCrossEntropyBackward:     "cross_entropy_backward",
	kMoERoute:                 "moe_route",
	kMoERouteBackward:         "moe_route_backward",
	kSumSquaresPartial:        "sum_squares_partial",
	kAdamW:                    "adamw",
	kLossReduce:               "loss_reduce",
	kSumDoubles:               "sum_doubles",
	kFill:                     "fill",
	kIndexSet:                 "index_set",
	kF32ToF16:                 "f32_to_f16",
	kMoEGroup:                 "moe_group",
	kMoEBalance:               "moe_balance",
	kMoEBalanceGrad:           "moe_balance_grad",
	kKVStore:                  "kv_store",
	kPositions:                "positions",
	kAdvance:                  "advance",
	kEmbeddingBackward:        "embedding_backward",
	kMoECombine:               "moe_combine",
}

// Launch geometry and limits shared with src/common.cuh.
const (
	attTile     = 32  // ATT_TILE
	attWarps    = 8   // ATT_WARPS
	attMaxHS    = 128 // 32·ATT_MAXD
	moeMaxE     = 64  // MOE_MAXE
	groupThread = 128 // GROUP_THREADS (src/resident.cu)
	blockThread = 256
)

// attSmem returns the dynamic shared memory, in bytes, of each attention
// kernel for head size HS (the layouts are in src/attention.cu).
func attSmem(HS int) (fwd, dq, dkv int) {
	hsp := HS + 1
	fwd = 4 * (attTile*hsp + attTile*HS + attWarps*HS)
	dq = 4 * (2*attTile*hsp + 2*attWarps*HS)
	dkv = 4 * (2*attTile*hsp + 2*attTile + 2*attWarps*HS)
	return
}
