package tensorboard_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/minimind-go/minimind/tensorboard"
	"github.com/minimind-go/minimind/train"
)

// A training command opens a writer at the start (an unwritable directory
// fails here), logs its flags once, adds every step, flushes at log steps
// and closes at the end.
func Example() {
	out, _ := os.MkdirTemp("", "out")
	defer os.RemoveAll(out)
	start := time.Date(2026, 12, 3, 14, 30, 0, 0, time.UTC)

	dir, err := tensorboard.RunDir(out, "pretrain", false, start)
	if err != nil {
		panic(err)
	}
	w, err := tensorboard.Open(dir)
	if err != nil {
		panic(err)
	}
	w.AddText(0, start, "flags", tensorboard.FlagsMarkdown(map[string]string{"batch_size": "32"}))
	for step := 1; step <= 3; step++ {
		w.AddStep(train.Step{Stage: "pretrain", Step: step, Loss: 9 - float64(step), LR: 5e-4}, start.Add(time.Duration(step)*time.Second))
		if step%2 == 0 {
			if err := w.Flush(); err != nil {
				panic(err)
			}
		}
	}
	w.AddEvalLoss(3, start.Add(4*time.Second), 5.5)
	if err := w.Close(); err != nil {
		panic(err)
	}

	f, err := tensorboard.ReadFile(w.Path())
	if err != nil {
		panic(err)
	}
	rel, _ := filepath.Rel(out, dir)
	fmt.Println(rel, len(f.Events), "events")
	for _, e := range f.Events[2:] {
		fmt.Println(e.Step, e.Values[0].Tag, e.Values[0].Scalar)
	}
	// Output:
	// runs/pretrain-20261203-143000 6 events
	// 1 loss 8
	// 2 loss 7
	// 3 loss 6
	// 3 eval_loss 5.5
}
