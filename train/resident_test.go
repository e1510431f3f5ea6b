package train_test

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/devmodel"
	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/kernels/cuda"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/train"
)

// TestRunOnResidentDevice: the loop driving a device-resident trainer
// (Config.Device; here devmodel's Host device on the CPU backend, the
// code `--device cuda` runs on a GPU) logs the same steps and saves the
// same weights as the CPU loop, accumulation and an interval save
// included, for pretraining and SFT, dense and MoE.
func TestRunOnResidentDevice(t *testing.T) {
	for _, tc := range []struct {
		stage string
		moe   bool
	}{{"pretrain", false}, {"pretrain", true}, {"sft", false}} {
		t.Run(tc.stage+map[bool]string{true: "-moe"}[tc.moe], func(t *testing.T) {
			run := func(device bool) ([]train.Step, []float32) {
				var logs []string
				dir := t.TempDir()
				c := runConfig(dir, tc.stage, &logs)
				c.Model = tinyConfig(tc.moe)
				c.Options.Accumulation, c.Options.SaveInterval = 2, 1
				if device {
					be := cpu.New(cpu.Options{Threads: 1})
					t.Cleanup(func() { be.Close() })
					c.Device = func(p *model.Params, B, T int) (train.Resident, error) {
						return devmodel.NewResident(devmodel.NewHost(be, cuda.FP32), p, devmodel.AdamWConfig(c.Options.AdamW), B, T)
					}
				}
				var steps []train.Step
				c.OnStep = func(s train.Step) { steps = append(steps, s) }
				res := mustRun(t, c)
				p, err := checkpoint.Load(filepath.Join(dir, filepath.Base(res.Paths.Weights)), c.Model)
				if err != nil {
					t.Fatal(err)
				}
				return steps, p.Data
			}
			cpuSteps, cpuW := run(false)
			devSteps, devW := run(true)
			if len(cpuSteps) == 0 || len(cpuSteps) != len(devSteps) {
				t.Fatalf("%d steps on the CPU, %d on the device", len(cpuSteps), len(devSteps))
			}
			for i := range cpuSteps {
				a, b := cpuSteps[i], devSteps[i]
				if a.Loss != b.Loss || a.CE != b.CE || a.Aux != b.Aux || a.GradNorm != b.GradNorm || a.LR != b.LR {
					t.Errorf("step %d: device %+v, CPU %+v", i+1, b, a)
				}
			}
			for i := range cpuW {
				if math.Float32bits(cpuW[i]) != math.Float32bits(devW[i]) {
					t.Fatalf("saved weight %d: device %v, CPU %v", i, devW[i], cpuW[i])
				}
			}
		})
	}
}

// TestRunResidentLossScalerSkips: in fp16 a loss-scaler overflow skips the
// update without counting as a non-finite step (a run with
// --skip_nonfinite 0 goes on), as AMP's GradScaler does; the scale backs
// off until the steps apply.
func TestRunResidentLossScalerSkips(t *testing.T) {
	var logs []string
	c := runConfig(t.TempDir(), "pretrain", &logs)
	c.Options.SkipNonfinite = 0
	be := cpu.New(cpu.Options{Threads: 1})
	t.Cleanup(func() { be.Close() })
	var r *devmodel.Resident
	c.Device = func(p *model.Params, B, T int) (train.Resident, error) {
		var err error
		r, err = devmodel.NewResident(devmodel.NewHost(be, cuda.FP16), p, devmodel.AdamWConfig(c.Options.AdamW), B, T)
		if err == nil {
			r.Trainer.Scaler.Scale = 1 << 30 // overflows binary16 in backward
		}
		return r, err
	}
	var steps []train.Step
	c.OnStep = func(s train.Step) { steps = append(steps, s) }
	mustRun(t, c)
	if len(steps) != 3 {
		t.Fatalf("%d steps, want 3", len(steps))
	}
	skipped := 0
	for _, s := range steps {
		if s.Nonfinite != "" || s.Stopped {
			t.Errorf("step %d recorded as non-finite: %+v", s.Step, s)
		}
		if math.IsInf(s.GradNorm, 0) || math.IsNaN(s.GradNorm) {
			skipped++
		}
	}
	if skipped == 0 || r.Trainer.Scaler.Scale >= 1<<30 || r.Trainer.T != 3-skipped {
		t.Errorf("%d overflow steps, scale %v, AdamW steps %d", skipped, r.Trainer.Scaler.Scale, r.Trainer.T)
	}
}
