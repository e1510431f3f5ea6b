package main

import (
	"errors"
	"strings"
	"testing"
)

func TestSelectDevice(t *testing.T) {
	g := &globalOptions{threads: 1}
	tests := []struct {
		name      string
		flags     DeviceFlags
		wantName  string // prefix of Backend.Name(); "" when an error is wanted
		wantUsage bool
	}{
		{"cpu", DeviceFlags{Device: "cpu"}, "cpu(", false},
		{"unknown device", DeviceFlags{Device: "tpu"}, "", true},
		{"bad precision", DeviceFlags{Device: "cuda", Precision: "fp8"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be, closeFn, err := selectDevice(g, tt.flags, "auto")
			if tt.wantName == "" {
				if err == nil || errors.Is(err, errUsage) != tt.wantUsage {
					t.Fatalf("err = %v, want usage error %v", err, tt.wantUsage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer closeFn()
			if !strings.HasPrefix(be.Name(), tt.wantName) {
				t.Errorf("backend %s, want %s…", be.Name(), tt.wantName)
			}
		})
	}
}

// TestSelectDeviceCUDA: --device cuda either gives the GPU or a clear
// error; --device auto then falls back to the CPU.
func TestSelectDeviceCUDA(t *testing.T) {
	g := &globalOptions{threads: 1}
	be, closeFn, err := selectDevice(g, DeviceFlags{Device: "cuda", Precision: "bf16"}, "auto")
	if err == nil {
		defer closeFn()
		if !strings.HasPrefix(be.Name(), "cuda(") {
			t.Errorf("backend %s", be.Name())
		}
		return
	}
	// noGPU: the error wraps one of the cuda sentinels.
	if !noGPU(err) || !strings.Contains(err.Error(), "--device cuda") {
		t.Fatalf("--device cuda without a GPU: %v", err)
	}
	be, closeFn, err = selectDevice(g, DeviceFlags{Device: "auto", Precision: "bf16"}, "auto")
	if err != nil {
		t.Fatalf("--device auto without a GPU: %v", err)
	}
	defer closeFn()
	if !strings.HasPrefix(be.Name(), "cpu(") {
		t.Errorf("auto fell back to %s, want cpu", be.Name())
	}
}
