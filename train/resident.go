package train

import (
	"context"
	"fmt"

	"github.com/minimind-go/minimind/model"
)

// Resident is a device that keeps its own copy of the weights, gradients
// and AdamW moments for the whole run (package devmodel on a GPU): the
// loop runs each micro-batch and the optimizer step there, and brings the
// weights and moments back into Model and Opt (Sync) before anything on
// the host reads them — a save, an evaluation. The device's numbers
// follow the CPU loop's: the same loss, ClipGradNorm and AdamW.
type Resident interface {
	// Name says which device and precision, for the log.
	Name() string
	// Load sets the device's weights, moments and AdamW step count.
	Load(params, m, v []float32, adamStep int) error
	ZeroGrad() error
	// ForwardBackward is model.Model.ForwardBackward on the device.
	ForwardBackward(ids, targets []int32, mask []float32, B, T int, scale float32) (model.Stats, error)
	// Unscale returns the gradient norm before clipping; overflow is a
	// loss scaler's skip (fp16), which skips the update without counting
	// as a non-finite step.
	Unscale() (norm float64, overflow bool, err error)
	// Apply clips to maxNorm and takes the AdamW step at lr.
	Apply(lr float32, maxNorm, norm float64)
	// Sync copies the weights, and the moments when m is non-nil, to the
	// host and returns AdamW's step count.
	Sync(params, m, v []float32) (adamStep int, err error)
}

// GradReducer is a Resident that sums its gradients over the
// data-parallel ranks on the device (NCCL), which a run of several ranks
// needs: the loop calls it where the CPU path all-reduces the host slab.
type GradReducer interface {
	AllReduceGrads(ctx context.Context) error
}

// syncDevice brings the device's weights (and, with moments, AdamW's
// state) into the host model before it is read.
func (t *Trainer) syncDevice(moments bool) error {
	if t.Device == nil {
		return nil
	}
	var m, v []float32
	if moments {
		m, v = t.Opt.M, t.Opt.V
	}
	n, err := t.Device.Sync(t.params(), m, v)
	if err != nil {
		return fmt.Errorf("%s: %w", t.Device.Name(), err)
	}
	if moments {
		t.Opt.T = n
	}
	return nil
}
