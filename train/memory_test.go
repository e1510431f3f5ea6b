package train_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/train"
)

// TestTrainingBytes: the estimate covers what the model allocates for a
// training step (its activations plus 16 bytes a parameter) and is not
// far above it, dense and MoE, for a few batch shapes.
func TestTrainingBytes(t *testing.T) {
	for _, moe := range []bool{false, true} {
		for _, bt := range [][2]int{{1, 8}, {4, 8}, {3, 5}} {
			m := tinyModel(t, moe)
			B, T := bt[0], bt[1]
			n := B * T
			ids, tg, mask := make([]int32, n), make([]int32, n), make([]float32, n)
			for i := range ids {
				ids[i], tg[i], mask[i] = int32(i%60), int32((i+1)%60), 1
			}
			if _, err := m.ForwardBackward(ids, tg, mask, B, T, 1); err != nil {
				t.Fatal(err)
			}
			got := m.ActivationBytes() + 16*int64(len(m.Params.Data))
			est := train.TrainingBytes(&m.Config, B, T)
			if est < got || float64(est) > 1.3*float64(got) {
				t.Errorf("moe=%v B=%d T=%d: estimate %d bytes, the model allocates %d", moe, B, T, est, got)
			}
			t.Logf("moe=%v B=%d T=%d: estimate/allocated %.3f", moe, B, T, float64(est)/float64(got))
		}
	}
}

// TestRunMemoryCheck: a batch too big for the available memory is refused
// before anything is allocated, naming the bytes needed and available.
func TestRunMemoryCheck(t *testing.T) {
	var logs []string
	c := runConfig(t.TempDir(), train.StagePretrain, &logs)
	c.MemAvailable = func() (int64, bool) { return 1000, true }
	_, err := train.Run(context.Background(), c)
	if !errors.Is(err, train.ErrMemory) {
		t.Fatalf("err = %v, want ErrMemory", err)
	}
	need := train.TrainingBytes(&c.Model, 4, 8)
	for _, want := range []string{"--batch_size 4", "--max_seq_len 9", "is available (1000 bytes)", fmt.Sprintf("AdamW and activations (%d bytes)", need)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// Unknown memory: no check.
	c.MemAvailable = func() (int64, bool) { return 0, false }
	mustRun(t, c)
}
