package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestBenchResidentDevice: `bench train|generate --device cuda` runs the
// device-resident path on a GPU and, without one, is an error naming the
// missing piece; --device auto then measures the CPU instead.
func TestBenchResidentDevice(t *testing.T) {
	g := &globalOptions{threads: 1, quiet: true}
	opts := tinyBench(false)
	opts.Steps = 1
	for _, which := range []string{"train", "generate"} {
		run := func(device string) (string, error) {
			o := opts
			o.Device = DeviceFlags{Device: device, Precision: "bf16"}
			var out bytes.Buffer
			var err error
			if which == "train" {
				err = runBenchTrain(context.Background(), o, g, &out)
			} else {
				err = runBenchGenerate(context.Background(), o, g, &out)
			}
			return out.String(), err
		}
		out, err := run("cuda")
		if err == nil {
			// A GPU: the JSON has the device-resident fields.
			if !strings.Contains(out, `"h2d_bytes_per_step"`) {
				t.Errorf("%s --device cuda: %s", which, out)
			}
			continue
		}
		if !noGPU(err) || !strings.Contains(err.Error(), "--device cuda") {
			t.Fatalf("%s --device cuda without a GPU: %v", which, err)
		}
		out, err = run("auto")
		if err != nil {
			t.Fatalf("%s --device auto without a GPU: %v", which, err)
		}
		if js := lastJSON(t, out); !strings.HasPrefix(js["backend"].(string), "cpu(") {
			t.Errorf("%s --device auto without a GPU ran on %v", which, js["backend"])
		}
	}
}
