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
	// A generous timeout while the quick call must succeed, however busy
	// the host; a short one for the call that must time out.
	c := &mpiComm{timeout: time.Minute, reqs: make(chan mpiRequest), size: 2}
	go c.serve()
	ctx := context.Background()
	if err := c.do(ctx, "quick", func() error { return nil }); err != nil {
		t.Fatalf("quick call: %v", err)
	}
	c.timeout = 50 * time.Millisecond
	block := make(chan struct{})
	defer close(block)
	err := c.do(ctx, "stuck all-reduce", func() error { <-block; return nil })
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("stuck call = %v, want ErrTimeout", err)
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

// TestOptionsTimeouts: start-up has its own timeout, the collectives'
// timeout when unset.
func TestOptionsTimeouts(t *testing.T) {
	for _, tt := range []struct {
		o                Options
		timeout, startup time.Duration
	}{
		{Options{}, DefaultTimeout, DefaultTimeout},
		{Options{Timeout: 2 * time.Second}, 2 * time.Second, 2 * time.Second},
		{Options{Timeout: 2 * time.Second, StartupTimeout: time.Minute}, 2 * time.Second, time.Minute},
		{Options{StartupTimeout: time.Minute}, DefaultTimeout, time.Minute},
	} {
		if got := tt.o.timeout(); got != tt.timeout {
			t.Errorf("%+v: timeout %v, want %v", tt.o, got, tt.timeout)
		}
		if got := tt.o.startupTimeout(); got != tt.startup {
			t.Errorf("%+v: startup timeout %v, want %v", tt.o, got, tt.startup)
		}
	}
}
