package devmodel

import (
	"context"
	"fmt"

	"github.com/minimind-go/minimind/dist/nccl"
)

// NewNCCL builds the NCCL communicator of the ranks of host on this
// device (collectively: every rank calls it).
func (d *CUDA) NewNCCL(ctx context.Context, host nccl.Host) (*nccl.Comm, error) {
	var c *nccl.Comm
	err := d.be.Do(func() error {
		var err error
		c, err = nccl.New(ctx, host)
		return err
	})
	return c, err
}

// AllReduceSum sums x over the communicator's ranks, in place on the
// device (queued on the default stream, after the kernels before it).
func (d *CUDA) AllReduceSum(c *nccl.Comm, x Buf) error {
	return d.be.Do(func() error { return c.AllReduceSum(x.g.DevicePtr(), x.n) })
}

// UseNCCL makes the Resident's gradients data-parallel: AllReduceGrads sums
// them over c's ranks on the device (the loop's gradient all-reduce, as
// the CPU path's Comm.AllReduceSum over the host slab). The Resident's
// device must be the CUDA one.
func (r *Resident) UseNCCL(c *nccl.Comm) error {
	if _, ok := r.Model.dev.(*CUDA); !ok {
		return fmt.Errorf("devmodel: NCCL needs the CUDA device, not %s", r.Model.dev.Name())
	}
	r.nccl = c
	return nil
}

// AllReduceGrads sums the gradient slab over the ranks (UseNCCL).
func (r *Resident) AllReduceGrads(context.Context) error {
	if r.nccl == nil {
		return fmt.Errorf("devmodel: AllReduceGrads without UseNCCL")
	}
	return r.Model.dev.(*CUDA).AllReduceSum(r.nccl, r.Model.grads)
}
