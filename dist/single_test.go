package dist_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/minimind-go/minimind/dist"
)

func TestSingle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := dist.Single()
	if c.Rank() != 0 || c.Size() != 1 {
		t.Fatalf("rank, size = %d, %d; want 0, 1", c.Rank(), c.Size())
	}
	buf := []float32{1, -2, 3.5}
	want := slices.Clone(buf)
	for name, op := range map[string]func() error{
		"AllReduceSum":  func() error { return c.AllReduceSum(ctx, buf) },
		"AllReduceMean": func() error { return c.AllReduceMean(ctx, buf) },
		"Broadcast":     func() error { return c.Broadcast(ctx, buf, 0) },
		"Barrier":       func() error { return c.Barrier(ctx) },
	} {
		if err := op(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if !slices.Equal(buf, want) {
			t.Errorf("%s changed the buffer: got %v, want %v", name, buf, want)
		}
	}
	msg := []byte("config")
	got, err := c.BroadcastBytes(ctx, msg, 0)
	if err != nil || string(got) != "config" {
		t.Fatalf("BroadcastBytes = %q, %v; want %q", got, err, "config")
	}
	got[0] = 'X'
	if string(msg) != "config" {
		t.Errorf("BroadcastBytes returned the caller's slice, not a copy")
	}
	if err := c.Broadcast(ctx, buf, 1); err == nil {
		t.Errorf("Broadcast with root 1 of 1: no error")
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestSingleCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := dist.Single().AllReduceMean(ctx, []float32{1}); !errors.Is(err, context.Canceled) {
		t.Errorf("AllReduceMean on a canceled ctx = %v, want context.Canceled", err)
	}
}

func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDetect(t *testing.T) {
	t.Parallel()
	torch := []string{"RANK", "1", "WORLD_SIZE", "4", "LOCAL_RANK", "1", "MASTER_ADDR", "10.0.0.1", "MASTER_PORT", "29500"}
	tests := []struct {
		name    string
		env     []string
		want    dist.Launcher
		wantErr bool
	}{
		{name: "none", want: dist.Launcher{Kind: dist.LauncherNone, Size: 1}},
		{name: "mpirun", env: []string{"OMPI_COMM_WORLD_RANK", "1", "OMPI_COMM_WORLD_SIZE", "2", "OMPI_COMM_WORLD_LOCAL_RANK", "1"},
			want: dist.Launcher{Kind: dist.LauncherMPI, Rank: 1, Size: 2, LocalRank: 1}},
		{name: "mpirun wins over torchrun", env: append([]string{"OMPI_COMM_WORLD_RANK", "0", "OMPI_COMM_WORLD_SIZE", "2"}, torch...),
			want: dist.Launcher{Kind: dist.LauncherMPI, Rank: 0, Size: 2}},
		{name: "pmix", env: []string{"PMIX_RANK", "3"}, want: dist.Launcher{Kind: dist.LauncherMPI, Rank: -1, Size: -1}},
		{name: "torchrun", env: torch, want: dist.Launcher{Kind: dist.LauncherTorchrun, Rank: 1, Size: 4, LocalRank: 1,
			MasterAddr: "10.0.0.1", MasterPort: 29500, RendezvousPort: 29500}},
		{name: "torchrun agent store", env: append([]string{"TORCHELASTIC_USE_AGENT_STORE", "True"}, torch...),
			want: dist.Launcher{Kind: dist.LauncherTorchrun, Rank: 1, Size: 4, LocalRank: 1,
				MasterAddr: "10.0.0.1", MasterPort: 29500, RendezvousPort: 29501}},
		{name: "torchrun world of one", env: []string{"RANK", "0", "WORLD_SIZE", "1"},
			want: dist.Launcher{Kind: dist.LauncherTorchrun, Rank: 0, Size: 1}},
		{name: "rank without world size", env: []string{"RANK", "0"}, wantErr: true},
		{name: "rank out of range", env: []string{"RANK", "2", "WORLD_SIZE", "2", "MASTER_ADDR", "h", "MASTER_PORT", "1"}, wantErr: true},
		{name: "no master addr", env: []string{"RANK", "0", "WORLD_SIZE", "2", "MASTER_PORT", "29500"}, wantErr: true},
		{name: "bad master port", env: []string{"RANK", "0", "WORLD_SIZE", "2", "MASTER_ADDR", "h", "MASTER_PORT", "x"}, wantErr: true},
		{name: "bad ompi rank", env: []string{"OMPI_COMM_WORLD_RANK", "x", "OMPI_COMM_WORLD_SIZE", "2"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := dist.Detect(env(tt.env...))
			if (err != nil) != tt.wantErr {
				t.Fatalf("Detect err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("Detect (-want +got):\n-%+v\n+%+v", tt.want, got)
			}
		})
	}
}

func TestInitWithoutLauncher(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name     string
		opts     dist.Options
		wantErr  error
		wantSize int
	}{
		{name: "auto gives single", opts: dist.Options{LookupEnv: env()}, wantSize: 1},
		{name: "single ignores launcher", opts: dist.Options{Backend: dist.BackendSingle, LookupEnv: env("OMPI_COMM_WORLD_SIZE", "2")}, wantSize: 1},
		{name: "torchrun world of one", opts: dist.Options{Backend: dist.BackendMPI, LookupEnv: env("RANK", "0", "WORLD_SIZE", "1")}, wantSize: 1},
		{name: "ddp without launcher", opts: dist.Options{Backend: dist.BackendMPI, LookupEnv: env()}, wantErr: dist.ErrNoLauncher},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := dist.Init(ctx, tt.opts)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Init err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && c.Size() != tt.wantSize {
				t.Errorf("Size = %d, want %d", c.Size(), tt.wantSize)
			}
		})
	}
	if _, err := dist.Init(ctx, dist.Options{Backend: "gloo"}); err == nil {
		t.Errorf("Init with backend gloo: no error")
	}
}

func TestLibMissing(t *testing.T) {
	t.Parallel()
	_, err := dist.Init(context.Background(), dist.Options{
		Backend:   dist.BackendMPI,
		LibPath:   "/nonexistent/libmpi.so.40",
		LookupEnv: env("OMPI_COMM_WORLD_RANK", "0", "OMPI_COMM_WORLD_SIZE", "2"),
	})
	if !errors.Is(err, dist.ErrNoMPI) {
		t.Fatalf("Init with a missing libmpi = %v, want ErrNoMPI", err)
	}
	t.Logf("message: %v", err)
}
