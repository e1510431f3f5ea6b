// Package pth reads and writes PyTorch state dicts in the zip format
// torch.save has used since 1.6: a zip archive holding <prefix>/data.pkl (the
// pickled dict, see package pickle), <prefix>/data/<key> (one raw
// little-endian storage per key), <prefix>/version and, from torch 2.0,
// <prefix>/byteorder.
//
// This is the format of MiniMind's trainer checkpoints (out/*.pth, a dict of
// fp16 tensors). Values are returned as float32 whatever the stored dtype.
//
// Error policy: reading never panics and never executes pickled code; a
// truncated or corrupt archive, a pickle that is not a flat dict of tensors
// (for example a full training checkpoint with nested dicts), an unsupported
// dtype, or a view reaching outside its storage is an error prefixed "pth:"
// naming the file, the key or the record. Writing goes through
// internal/atomicfile, so a failed write leaves any old file intact.
package pth

import "github.com/minimind-go/minimind/checkpoint/pickle"

// Tensor is one state-dict entry with its values converted to float32.
type Tensor struct {
	Name string
	// DType is the stored element type: "F32", "F16" or "BF16".
	DType string
	Shape []int
	Data  []float32
}

// The torch._utils callables a state-dict value can be built by. They are
// never modified.
var (
	rebuildTensor    = pickle.Global{Module: "torch._utils", Name: "_rebuild_tensor_v2"}
	rebuildParameter = pickle.Global{Module: "torch._utils", Name: "_rebuild_parameter"}
	rebuildParamWith = pickle.Global{Module: "torch._utils", Name: "_rebuild_parameter_with_state"}
)
