package dist

import (
	"context"
	"slices"
)

// single is the world of one rank: every collective is the identity.
type single struct{}

// Single returns the one-rank communicator used when --ddp is off. Its
// collectives leave buffers unchanged (a sum or mean over one rank is the
// value itself), honour ctx cancellation, and never fail otherwise. It holds
// no resources; Close is a no-op and it stays usable afterwards.
func Single() Comm { return single{} }

func (single) Rank() int { return 0 }
func (single) Size() int { return 1 }

func (single) AllReduceSum(ctx context.Context, _ []float32) error  { return ctx.Err() }
func (single) AllReduceMean(ctx context.Context, _ []float32) error { return ctx.Err() }

func (single) Broadcast(ctx context.Context, _ []float32, root int) error {
	if err := checkRoot(root, 1); err != nil {
		return err
	}
	return ctx.Err()
}

func (single) BroadcastBytes(ctx context.Context, b []byte, root int) ([]byte, error) {
	if err := checkRoot(root, 1); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// A copy, like the MPI path, so callers may reuse b.
	return slices.Clone(b), nil
}

func (single) Barrier(ctx context.Context) error { return ctx.Err() }
func (single) Close() error                      { return nil }
