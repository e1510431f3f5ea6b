package train

import (
	"context"
	"testing"
)

// ranks is a Reducer of size identical ranks: a sum multiplies by size.
type ranks int

func (r ranks) Rank() int { return 0 }
func (r ranks) Size() int { return int(r) }
func (r ranks) AllReduceSum(_ context.Context, buf []float32) error {
	for i := range buf {
		buf[i] *= float32(r)
	}
	return nil
}

// TestSumCount: token counts sum exactly across ranks, also past 2^24
// where a float32 count (the old mean) rounds.
func TestSumCount(t *testing.T) {
	for _, c := range []struct {
		name  string
		n     int
		ranks ranks
	}{
		{"small", 4096, 2},
		{"odd", 1<<24 + 1, 3},
		{"large", 1<<35 - 1, 8},
		{"many ranks", 1<<30 + 12345, 4096},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := &Trainer{Comm: c.ranks}
			got, err := tr.sumCount(context.Background(), c.n)
			if err != nil {
				t.Fatal(err)
			}
			if want := c.n * int(c.ranks); got != want {
				t.Errorf("sum of %d over %d ranks = %d, want %d", c.n, c.ranks, got, want)
			}
		})
	}
}
