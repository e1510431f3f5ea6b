package dist

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestOwnerTimeout checks the owner-thread machinery without MPI: a call
// whose closure never returns times out, fails the communicator, and
// every later call says so at once.
func TestOwnerTimeout(t *testing.T) {
	t.Parallel()
	c := &mpiComm{timeout: 50 * time.Millisecond, reqs: make(chan mpiRequest), size: 2}
	go c.serve()
	ctx := context.Background()
	if err := c.do(ctx, "quick", func() error { return nil }); err != nil {
		t.Fatalf("quick call: %v", err)
	}
	block := make(chan struct{})
	defer close(block)
	start := time.Now()
	err := c.do(ctx, "stuck all-reduce", func() error { <-block; return nil })
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("stuck call = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("stuck call returned after %v, want about 50ms", d)
	}
	err = c.do(ctx, "next", func() error { return nil })
	if !errors.Is(err, ErrFailed) || !errors.Is(err, ErrTimeout) {
		t.Errorf("call after a timeout = %v, want ErrFailed wrapping ErrTimeout", err)
	}
}

func TestOwnerCanceled(t *testing.T) {
	t.Parallel()
	c := &mpiComm{timeout: time.Minute, reqs: make(chan mpiRequest), size: 2}
	go c.serve()
	block := make(chan struct{})
	defer close(block)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := c.do(ctx, "stuck barrier", func() error { <-block; return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call with an expiring ctx = %v, want context.DeadlineExceeded", err)
	}
	if err := c.do(context.Background(), "next", func() error { return nil }); !errors.Is(err, ErrFailed) {
		t.Errorf("call after an abandoned one = %v, want ErrFailed", err)
	}
}
