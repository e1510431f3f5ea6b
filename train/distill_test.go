package train_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/internal/fixture"
	"github.com/minimind-go/minimind/model/modeltest"
	"github.com/minimind-go/minimind/train"
)

// distillInputs is posttrain/distill/inputs.json.
type distillInputs struct {
	InputIDs [][]int32 `json:"input_ids"`
	Labels   [][]int32 `json:"labels"`
}

// distillExpected is the part of posttrain/distill/expected.json the
// tests check.
type distillExpected struct {
	Alpha       float64 `json:"alpha"`
	Temperature float64 `json:"temperature"`
	Loss        float64 `json:"loss"`
	CE          float64 `json:"ce_loss"`
	Distill     float64 `json:"distill_loss"`
	Selected    int     `json:"selected_positions"`
}

func readDistillFixture(t *testing.T) (string, distillInputs, distillExpected) {
	t.Helper()
	dir := fixture.Dir(t, "posttrain/distill")
	var in distillInputs
	var exp distillExpected
	for name, v := range map[string]any{"inputs.json": &in, "expected.json": &exp} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return dir, in, exp
}

// shiftedTargets turns upstream's labels [B,T] into per-position targets
// [B,T]: position t predicts labels[t+1]; the last position is ignored.
func shiftedTargets(labels [][]int32) (tg []int32, mask []float32) {
	for _, row := range labels {
		for t := range row {
			v := int32(-100)
			if t+1 < len(row) {
				v = row[t+1]
			}
			m := float32(0)
			if v >= 0 {
				m = 1
			}
			tg, mask = append(tg, v), append(mask, m)
		}
	}
	return tg, mask
}

// TestDistillLossFixture: upstream's loss on upstream's own logits
// (posttrain/distill expected.safetensors, [2,15,320] each) within the
// README's loss tolerance (2e-6).
func TestDistillLossFixture(t *testing.T) {
	dir, in, exp := readDistillFixture(t)
	f := modeltest.ReadTensors(t, filepath.Join(dir, "expected.safetensors"))
	s, te := modeltest.Floats(t, f, "student_logits"), modeltest.Floats(t, f, "teacher_logits")
	B, T := len(in.Labels), len(in.Labels[0])-1
	V := len(s) / (B * T)
	// Labels shifted by one, as upstream's labels[:, 1:].
	var tg []int32
	var mask []float32
	for _, row := range in.Labels {
		for _, y := range row[1:] {
			tg = append(tg, y)
			mask = append(mask, 1)
		}
	}
	d := train.Distill{Alpha: exp.Alpha, Temperature: exp.Temperature}
	dl := make([]float32, len(s))
	p := d.Loss(dl, s, te, tg, mask, V, V)
	if p.Rows != exp.Selected {
		t.Errorf("%d rows selected, want %d", p.Rows, exp.Selected)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"loss", p.Loss, exp.Loss}, {"ce", p.CE, exp.CE}, {"distill", p.KL, exp.Distill}} {
		if math.Abs(c.got-c.want) > 2e-6 {
			t.Errorf("%s %.9g, want %.9g", c.name, c.got, c.want)
		}
	}
	t.Logf("loss %.9g (want %.9g) ce %.9g distill %.9g", p.Loss, exp.Loss, p.CE, p.KL)
}

// TestDistillLossGradient checks Loss's gradient against central finite
// differences (float64 sums over float32 logits, h 1e-2) with a teacher of
// a larger vocabulary (cut to the student's), masked rows and a negative
// target, for α 0.5 and the ends 0 and 1; masked rows get no gradient.
func TestDistillLossGradient(t *testing.T) {
	const N, V, VT = 6, 7, 9
	r := rand.New(rand.NewPCG(1, 2))
	s := make([]float32, N*V)
	te := make([]float32, N*VT)
	for i := range s {
		s[i] = float32(r.NormFloat64() * 2)
	}
	for i := range te {
		te[i] = float32(r.NormFloat64() * 2)
	}
	tg := []int32{3, -100, 0, 6, 2, 5}
	mask := []float32{1, 1, 1, 0, 1, 1}
	for _, d := range []train.Distill{{Alpha: 0.5, Temperature: 1.5}, {Alpha: 0, Temperature: 2}, {Alpha: 1, Temperature: 0.7}} {
		dl := make([]float32, N*V)
		p := d.Loss(dl, s, te, tg, mask, V, VT)
		if p.Rows != 4 {
			t.Fatalf("%d rows, want 4", p.Rows)
		}
		if want := d.Alpha*p.CE + (1-d.Alpha)*p.KL; math.Abs(p.Loss-want) > 1e-12 {
			t.Errorf("%+v: loss %g ≠ α·ce + (1−α)·kl = %g", d, p.Loss, want)
		}
		loss := func() float64 { return d.Loss(make([]float32, N*V), s, te, tg, mask, V, VT).Loss }
		const h = 1e-2
		for i := range s {
			if row := i / V; tg[row] < 0 || mask[row] == 0 {
				if dl[i] != 0 {
					t.Errorf("%+v: masked row %d got gradient %g", d, row, dl[i])
				}
				continue
			}
			x := s[i]
			s[i] = x + h
			up := loss()
			s[i] = x - h
			dn := loss()
			s[i] = x
			fd := (up - dn) / (2 * h)
			if math.Abs(fd-float64(dl[i])) > 1e-4+1e-3*math.Abs(fd) {
				t.Errorf("%+v: d/ds[%d] = %.6g, finite difference %.6g", d, i, dl[i], fd)
			}
		}
	}
}

// TestDistillLossKLZero: a student equal to the (cut) teacher has a zero
// KL, and its gradient is the CE part's alone; no selected row is a zero
// loss with no gradient.
func TestDistillLossKLZero(t *testing.T) {
	const V, VT = 4, 6
	s := []float32{0.5, -1, 2, 0.25}
	te := []float32{0.5, -1, 2, 0.25, 9, -9} // the extra logits are cut before the softmax
	d := train.Distill{Alpha: 0.5, Temperature: 1.5}
	dl := make([]float32, V)
	p := d.Loss(dl, s, te, []int32{2}, []float32{1}, V, VT)
	if math.Abs(p.KL) > 1e-12 {
		t.Errorf("KL of identical distributions = %g", p.KL)
	}
	dce := make([]float32, V)
	pce := train.Distill{Alpha: 1, Temperature: 1.5}.Loss(dce, s, te, []int32{2}, []float32{1}, V, VT)
	if math.Abs(p.CE-pce.CE) > 1e-12 {
		t.Errorf("ce %g vs %g", p.CE, pce.CE)
	}
	for v := range dl {
		if math.Abs(float64(dl[v]-0.5*dce[v])) > 1e-7 {
			t.Errorf("grad[%d] %g, want half the CE gradient %g", v, dl[v], dce[v])
		}
	}
	dl = make([]float32, V)
	if p := d.Loss(dl, s, te, []int32{-100}, []float32{1}, V, VT); p != (train.DistillParts{}) || dl[0] != 0 {
		t.Errorf("no selected row: %+v, grad %v", p, dl)
	}
}

// TestDistillValidate: α outside [0,1] and a non-positive T are refused,
// naming the flag.
func TestDistillValidate(t *testing.T) {
	for _, c := range []struct {
		d    train.Distill
		flag string
	}{{train.Distill{Alpha: 1.5, Temperature: 1}, "--alpha"}, {train.Distill{Alpha: math.NaN(), Temperature: 1}, "--alpha"},
		{train.Distill{Alpha: 0.5, Temperature: 0}, "--temperature"}, {train.Distill{Alpha: 0.5, Temperature: math.Inf(1)}, "--temperature"}} {
		err := c.d.Validate()
		if err == nil || !strings.Contains(err.Error(), c.flag) {
			t.Errorf("%+v: error %v, want one naming %s", c.d, err, c.flag)
		}
	}
	if err := (train.Distill{Alpha: 0.5, Temperature: 1.5}).Validate(); err != nil {
		t.Error(err)
	}
}
