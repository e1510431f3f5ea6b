package train

import (
	"math"
	"strings"
	"testing"

	"gonum.org/v1/plot"
)

// TestStepTicks: the step axis is labelled with whole numbers only.
func TestStepTicks(t *testing.T) {
	for _, r := range [][2]float64{{1, 3}, {0.9, 2.1}, {1, 7}, {1, 250}, {1, 100000}} {
		var labels []string
		for _, tk := range (stepTicks{}).Ticks(r[0], r[1]) {
			if tk.Label == "" {
				continue
			}
			if strings.ContainsAny(tk.Label, ".e") || tk.Value != math.Trunc(tk.Value) {
				t.Errorf("range %v: tick %q at %g", r, tk.Label, tk.Value)
			}
			labels = append(labels, tk.Label)
		}
		if len(labels) < 2 {
			t.Errorf("range %v: labels %q, want at least 2", r, labels)
		}
	}
	var _ plot.Ticker = stepTicks{}
}
