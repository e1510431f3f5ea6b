package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/minimind-go/minimind/kernels"
	"github.com/minimind-go/minimind/kernels/cuda"
	"github.com/spf13/pflag"
)

// DeviceFlags choose where the kernels run: --device and --precision.
// `bench train|generate` run the device-resident path (package devmodel,
// device_resident.go) on a GPU; the other commands use kernels/cuda's
// kernels.Backend, which copies each kernel's tensors.
type DeviceFlags struct {
	Device    string // auto, cpu or cuda
	Precision string // cuda only: bf16 (mixed precision) or fp32
}

// AddFlags registers --device and --precision.
func (o *DeviceFlags) AddFlags(f *pflag.FlagSet) {
	// The default stays cpu until the CUDA backend has passed its conformance
	// run on a GPU (scripts/gpu-check.sh); then it becomes auto.
	f.StringVar(&o.Device, "device", "cpu", "where to compute: cpu, cuda, or auto (cuda when a GPU is usable, else cpu); the CUDA backend is not yet validated on a GPU")
	f.StringVar(&o.Precision, "precision", "bf16", "GPU matrix-product precision, as the seed's --dtype: bf16 (mixed: bf16 inputs, fp32 accumulation, fp32 weights and optimizer; Ampere and newer), fp16 (the same in float16, with dynamic loss scaling when training; T4) or fp32 (also bfloat16, float16, float32)")
}

// noGPU reports whether err means "this machine cannot run CUDA" (as
// opposed to a GPU that is present but failing), the only case in which
// --device auto falls back to the CPU.
func noGPU(err error) bool {
	for _, s := range []error{cuda.ErrNoDriver, cuda.ErrNoNVRTC, cuda.ErrNoCUBLAS, cuda.ErrNoDevice, cuda.ErrUnsupportedPlatform} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// selectDevice returns the backend --device names and the function that
// releases it. gemmKind is the CPU --gemm choice (ignored on the GPU).
func selectDevice(g *globalOptions, d DeviceFlags, gemmKind string) (kernels.Backend, func(), error) {
	switch d.Device {
	case "cpu", "": // the zero value is the default, cpu
		be, err := newBackend(g, gemmKind)
		if err != nil {
			return nil, nil, err
		}
		return be, be.Close, nil
	case "cuda", "auto":
	default:
		return nil, nil, fmt.Errorf("%w: --device %q: want cpu, cuda or auto", errUsage, d.Device)
	}
	if d.Precision == "" {
		d.Precision = "bf16"
	}
	p, err := cuda.ParsePrecision(d.Precision)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: --precision: %v", errUsage, err)
	}
	be, err := cuda.New(cuda.Options{Precision: p})
	switch {
	case err == nil:
		info := be.Info()
		fmt.Fprintf(os.Stderr, "device: cuda 0 (%s, sm_%d), precision %s (kernels.Backend: each kernel copies its tensors)\n", info.Name, info.Capability, p)
		return be, func() { be.Close() }, nil
	case d.Device != "cuda" && noGPU(err):
		fmt.Fprintf(os.Stderr, "device: cpu (--device auto: no usable GPU: %v)\n", err)
		return selectDevice(g, DeviceFlags{Device: "cpu"}, gemmKind)
	default:
		return nil, nil, fmt.Errorf("--device %s: %w", d.Device, err)
	}
}
