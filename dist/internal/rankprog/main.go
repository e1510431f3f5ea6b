// Command rankprog is the program dist's multi-rank tests launch under
// mpirun (or with torchrun-style variables). Each mode exercises one part of
// the dist API and prints "rank R: ..." lines the tests read; any wrong
// result exits non-zero.
//
//	mpirun --oversubscribe -np 2 rankprog -mode ops
//	mpirun --oversubscribe -np 2 rankprog -mode bench -n 27400000
//	mpirun --oversubscribe -np 2 rankprog -mode die     # rank 1 exits mid-run
//	mpirun --oversubscribe -np 2 rankprog -mode kill    # rank 1 is SIGKILLed mid-run
//	mpirun --oversubscribe -np 2 rankprog -mode hang -timeout 2s -startup_timeout 2m
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"syscall"
	"time"

	"github.com/minimind-go/minimind/dist"
)

func main() {
	mode := flag.String("mode", "ops", "ops | bench | die | kill | hang")
	n := flag.Int("n", 27_400_000, "floats per all-reduce in bench mode")
	iters := flag.Int("iters", 5, "timed all-reduces in bench mode")
	timeout := flag.Duration("timeout", 0, "collective timeout (0: dist.DefaultTimeout)")
	// Apart from -timeout, so that a short collective timeout does not also
	// cut MPI start-up short on a busy host.
	startup := flag.Duration("startup_timeout", 0, "start-up timeout (0: the collective timeout)")
	flag.Parse()

	ctx := context.Background()
	comm, err := dist.Init(ctx, dist.Options{Backend: dist.BackendMPI, Timeout: *timeout, StartupTimeout: *startup, AbortCode: 7})
	if err != nil {
		fmt.Fprintf(os.Stderr, "init: %v\n", err)
		os.Exit(2)
	}
	switch *mode {
	case "ops":
		err = ops(ctx, comm)
	case "bench":
		err = bench(ctx, comm, *n, *iters)
	case "die", "kill", "hang":
		err = failure(ctx, comm, *mode)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		fmt.Printf("rank %d: error: %v (timeout=%t)\n", comm.Rank(), err, errors.Is(err, dist.ErrTimeout))
		// On a failed communicator Close calls MPI_Abort and does not return.
		closeErr := comm.Close()
		fmt.Printf("rank %d: close: %v\n", comm.Rank(), closeErr)
		os.Exit(1)
	}
	if err := comm.Close(); err != nil {
		fmt.Printf("rank %d: close: %v\n", comm.Rank(), err)
		os.Exit(1)
	}
	fmt.Printf("rank %d: closed\n", comm.Rank())
}

func ops(ctx context.Context, c dist.Comm) error {
	r, s := c.Rank(), c.Size()
	fmt.Printf("rank %d: size %d\n", r, s)
	for _, n := range []int{0, 1, 7, 1000} {
		buf := make([]float32, n)
		for i := range buf {
			buf[i] = float32(r+1) * float32(i+1)
		}
		if err := c.AllReduceSum(ctx, buf); err != nil {
			return err
		}
		tri := float32(s * (s + 1) / 2) // sum over ranks of r+1
		for i, v := range buf {
			if want := tri * float32(i+1); v != want {
				return fmt.Errorf("all-reduce sum n=%d: [%d] = %v, want %v", n, i, v, want)
			}
		}
		for i := range buf {
			buf[i] = float32(r)
		}
		if err := c.AllReduceMean(ctx, buf); err != nil {
			return err
		}
		for i, v := range buf {
			if want := float32(s-1) / 2; math.Abs(float64(v-want)) > 1e-6 {
				return fmt.Errorf("all-reduce mean n=%d: [%d] = %v, want %v", n, i, v, want)
			}
		}
	}
	root := s - 1
	fl := []float32{float32(r), -1, 2.5}
	if err := c.Broadcast(ctx, fl, root); err != nil {
		return err
	}
	if fl[0] != float32(root) || fl[1] != -1 || fl[2] != 2.5 {
		return fmt.Errorf("broadcast from %d: got %v", root, fl)
	}
	var msg []byte
	if r == 0 {
		msg = []byte(`{"hidden_size":512,"num_hidden_layers":8}`)
	}
	got, err := c.BroadcastBytes(ctx, msg, 0)
	if err != nil {
		return err
	}
	if want := `{"hidden_size":512,"num_hidden_layers":8}`; string(got) != want {
		return fmt.Errorf("broadcast bytes: got %q, want %q", got, want)
	}
	empty, err := c.BroadcastBytes(ctx, []byte("ignored on non-root"), root)
	if err != nil {
		return err
	}
	if r != root && !bytes.Equal(empty, []byte("ignored on non-root")) {
		return fmt.Errorf("broadcast bytes from %d: got %q", root, empty)
	}
	if err := c.Barrier(ctx); err != nil {
		return err
	}
	if err := c.Broadcast(ctx, fl, s); err == nil {
		return fmt.Errorf("broadcast with root %d = size: no error", s)
	}
	fmt.Printf("rank %d: ops ok\n", r)
	return nil
}

func bench(ctx context.Context, c dist.Comm, n, iters int) error {
	buf := make([]float32, n)
	var times []float64
	for it := -1; it < iters; it++ { // iteration -1 warms up (page faults, connections)
		for i := range buf {
			buf[i] = float32(c.Rank() + 1)
		}
		if err := c.Barrier(ctx); err != nil {
			return err
		}
		t := time.Now()
		if err := c.AllReduceSum(ctx, buf); err != nil {
			return err
		}
		if it >= 0 {
			times = append(times, float64(time.Since(t).Microseconds())/1000)
		}
	}
	want := float32(c.Size() * (c.Size() + 1) / 2)
	for _, i := range []int{0, n / 2, n - 1} {
		if buf[i] != want {
			return fmt.Errorf("bench: [%d] = %v, want %v", i, buf[i], want)
		}
	}
	sort.Float64s(times)
	med := times[len(times)/2]
	gb := float64(4*n) / 1e9
	fmt.Printf("rank %d: all-reduce %d floats (%.1f MB) x %d ranks: median %.1f ms, min %.1f ms, %.2f GB/s algbw\n",
		c.Rank(), n, gb*1e3, c.Size(), med, times[0], gb/(med/1e3))
	return nil
}

// failure runs a few good steps, then rank 1 disappears ("die": exits
// with status 3 without finalising; "kill": SIGKILL; "hang": stops
// answering) while rank 0 enters the next
// all-reduce and must come back with an error.
func failure(ctx context.Context, c dist.Comm, mode string) error {
	buf := make([]float32, 1<<16)
	for step := 0; step < 3; step++ {
		if err := c.AllReduceMean(ctx, buf); err != nil {
			return err
		}
	}
	if c.Rank() == 1 {
		fmt.Printf("rank 1: %s now\n", mode)
		switch mode {
		case "die":
			os.Exit(3)
		case "kill":
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
		select {} // hang: alive, never calls MPI again
	}
	start := time.Now()
	err := c.AllReduceMean(ctx, buf)
	fmt.Printf("rank %d: all-reduce after peer %s returned after %v\n", c.Rank(), mode, time.Since(start).Round(time.Millisecond))
	if err == nil {
		return errors.New("all-reduce with a missing peer succeeded")
	}
	return err
}
