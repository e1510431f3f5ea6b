package train_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/tokenizer"
	"github.com/minimind-go/minimind/train"
)

// TestRunEval: with Config.Eval the held-out loss is recorded every
// Interval steps and at the end, as eval_loss in metrics.jsonl, and it is
// Evaluate's loss of the weights saved at the end; OnMicro reports every
// micro-batch and OnEval the evaluation's progress.
func TestRunEval(t *testing.T) {
	tok, err := tokenizer.Default()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	held := filepath.Join(dir, "held.jsonl")
	var sb strings.Builder
	for i := range 5 {
		b, _ := json.Marshal(map[string]string{"text": fmt.Sprintf("held-out text %d about a fox", i)})
		sb.Write(append(b, '\n'))
	}
	if err := os.WriteFile(held, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	enc, err := data.NewEncoder(tok, data.EncodeOptions{MaxSeqLen: 9})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := data.LoadJSONL(t.Context(), []string{held}, data.KindPretrain, enc, data.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var logs []string
	out := filepath.Join(dir, "out")
	rc := runConfig(out, train.StagePretrain, &logs)
	rc.Model.VocabSize = tok.VocabSize()
	rc.Options.Accumulation = 2 // 3 batches: steps of 2 and 1 micro-batches
	rc.Eval = &train.EvalSet{Data: ds, Enc: enc, Interval: 1, BatchTokens: 16}
	var micros []train.Micro
	rc.OnMicro = func(m train.Micro) { micros = append(micros, m) }
	evals := 0
	rc.OnEval = func(done, total int) {
		if total != 5 || done < 1 || done > total {
			t.Errorf("OnEval(%d, %d), want done in 1..5 of 5", done, total)
		}
		evals++
	}
	res := mustRun(t, rc)
	want := []train.Micro{{1, 2, 1, 2}, {1, 2, 2, 2}, {2, 2, 1, 2}}
	if fmt.Sprint(micros) != fmt.Sprint(want) {
		t.Errorf("OnMicro %v, want %v", micros, want)
	}
	if evals < 2 {
		t.Errorf("OnEval called %d times, want at least once per evaluation", evals)
	}
	if len(res.Steps) != 2 || res.Steps[0].EvalLoss == 0 || res.Steps[1].EvalLoss == 0 {
		t.Fatalf("steps %+v: want an eval_loss at both steps", res.Steps)
	}
	b, err := os.ReadFile(res.Metrics)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), `"eval_loss":`); n != 2 {
		t.Errorf("metrics.jsonl has %d eval_loss fields, want 2:\n%s", n, b)
	}
	// The last eval_loss is that of the saved (f32) weights.
	p, err := checkpoint.Load(res.Weights, rc.Model)
	if err != nil {
		t.Fatal(err)
	}
	r, err := train.Evaluate(t.Context(), model.New(p, cpu.New(cpu.Options{Threads: 1})), ds, enc, 16)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Steps[1].EvalLoss; math.Abs(got-r.Loss) > 1e-6 {
		t.Errorf("eval_loss %g, Evaluate of the saved weights %g", got, r.Loss)
	}
	if _, err := os.Stat(res.Plot); err != nil {
		t.Error(err)
	}
}
