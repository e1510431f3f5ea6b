package data

import "testing"

// maskDataset serves one-position samples whose loss mask is masks[i].
type maskDataset struct{ masks []float32 }

func (d maskDataset) Kind() Kind     { return KindSFT }
func (d maskDataset) Len() int       { return len(d.masks) }
func (d maskDataset) MaxSeqLen() int { return 2 }
func (d maskDataset) Sample(i int, dst *Sample) error {
	dst.X, dst.Y, dst.LossMask = []int32{1}, []int32{2}, []float32{d.masks[i]}
	return nil
}

func TestCountTargets(t *testing.T) {
	for _, c := range []struct {
		masks         []float32
		n             int
		with, checked int
	}{
		{nil, 64, 0, 0},
		{[]float32{0, 0, 0}, 64, 0, 3},
		{[]float32{0, 1, 0, 1}, 64, 2, 4},
		{[]float32{1, 0, 1, 0, 1, 0, 1, 0}, 4, 4, 4}, // every other example: 0, 2, 4, 6
		{[]float32{0, 0, 0, 0, 0, 0, 0, 1}, 2, 0, 2}, // looks at 0 and 4 only
	} {
		with, checked, err := CountTargets(maskDataset{c.masks}, c.n)
		if err != nil || with != c.with || checked != c.checked {
			t.Errorf("%v, n=%d: %d with targets of %d checked (err %v); want %d of %d", c.masks, c.n, with, checked, err, c.with, c.checked)
		}
	}
}
