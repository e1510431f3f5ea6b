package main

import (
	"context"
	"fmt"
)

// comm is what the CLI needs of a data-parallel communicator.
type comm interface {
	Rank() int
	Size() int
	AllReduceMean(ctx context.Context, buf []float32) error
	Broadcast(ctx context.Context, buf []float32, root int) error
	Close() error
}

// single is the one-process communicator.
type single struct{}

func (single) Rank() int                                       { return 0 }
func (single) Size() int                                       { return 1 }
func (single) AllReduceMean(context.Context, []float32) error  { return nil }
func (single) Broadcast(context.Context, []float32, int) error { return nil }
func (single) Close() error                                    { return nil }

// initComm returns the communicator for --ddp (or the single process).
func initComm(_ context.Context, ddp bool) (comm, error) {
	if !ddp {
		return single{}, nil
	}
	return nil, fmt.Errorf("--ddp: data-parallel training is not wired in yet")
}
