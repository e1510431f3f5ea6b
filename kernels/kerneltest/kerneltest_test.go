package kerneltest

import "testing"

// TestSubtestRNG: a kernel subtest's inputs depend on its suite and name
// only, not on its parent test or on the subtests run before it.
func TestSubtestRNG(t *testing.T) {
	t.Parallel()
	first := func(parent, suite, name string) (v float32) {
		t.Run(parent, func(t *testing.T) {
			t.Run(name, func(t *testing.T) { v = subtestRNG(t, suite).vec(1, 1)[0] })
		})
		return v
	}
	a := first("A", "vs-ref", "MatMul")
	if b := first("B", "vs-ref", "MatMul"); a != b {
		t.Errorf("same subtest under another parent: first value %v, want %v", b, a)
	}
	if c := first("A", "vs-ref", "RoPE"); c == a {
		t.Errorf("MatMul and RoPE share their first value %v", a)
	}
	if d := first("A", "finite-diff", "MatMul"); d == a {
		t.Errorf("vs-ref and finite-diff MatMul share their first value %v", a)
	}
}
