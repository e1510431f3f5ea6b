package main

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/minimind-go/minimind/train"
)

// TestExitCode: one mapping serves every command: train's errors that the
// flags or the files they name cause are usage errors (exit status 2)
// however deeply a command wraps them, as train's own are.
func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, exitOK},
		{errors.New("disk full"), exitError},
		{fmt.Errorf("%w: --epochs 0", errUsage), exitUsage},
		{train.ErrChangedSetup, exitUsage},
		{train.ErrChangedSchedule, exitUsage},
		{train.ErrMaxSeqLen, exitUsage},
		{train.ErrArchitecture, exitUsage},
		{train.ErrMemory, exitUsage},
		{train.ErrWorldSize, exitUsage},
		{train.ErrResumeField, exitError},
		{train.ErrNonFinite, exitNonFinite},
		{context.Canceled, exitInterrupted},
	} {
		for _, err := range []error{tc.err, fmt.Errorf("lora: resume: %w", tc.err), fmt.Errorf("ppo: step 3: %w", fmt.Errorf("x: %w", tc.err))} {
			if tc.err == nil && err != nil {
				continue
			}
			if got := exitCode(err); got != tc.want {
				t.Errorf("exitCode(%v) = %d, want %d", err, got, tc.want)
			}
		}
	}
}
