package main

import (
	"context"
	"fmt"

	"github.com/minimind-go/minimind/dist"
)

// initComm returns the data-parallel communicator for --ddp (MPI, started
// by mpirun or torchrun-style environment variables), or the single
// process.
func initComm(ctx context.Context, ddp bool) (dist.Comm, error) {
	if !ddp {
		return dist.Single(), nil
	}
	c, err := dist.Init(ctx, dist.Options{Backend: dist.BackendMPI})
	if err != nil {
		return nil, fmt.Errorf("--ddp: %w", err)
	}
	return c, nil
}
