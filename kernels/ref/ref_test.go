package ref_test

import (
	"testing"

	"github.com/minimind-go/minimind/kernels/kerneltest"
	"github.com/minimind-go/minimind/kernels/ref"
)

// The reference backend passes its own suite (vs-ref is trivially exact;
// finite differences and fixtures are the real checks).
func TestConformance(t *testing.T) { kerneltest.Run(t, ref.New()) }
