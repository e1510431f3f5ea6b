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
