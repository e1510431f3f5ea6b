package safetensors_test

import (
	"bytes"
	"fmt"

	"github.com/minimind-go/minimind/checkpoint/safetensors"
)

func Example() {
	w := safetensors.FromFloat32("model.norm.weight", []int{3}, []float32{1, 0.5, 1.0009765625}, safetensors.F16)
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, []safetensors.Tensor{w}, map[string]string{"format": "pt"}); err != nil {
		fmt.Println(err)
		return
	}
	f, err := safetensors.Parse(buf.Bytes())
	if err != nil {
		fmt.Println(err)
		return
	}
	t, _ := f.Get("model.norm.weight")
	x, _ := t.Float32s()
	fmt.Println(t.DType, t.Shape, x, f.Metadata["format"])
	// Output: F16 [3] [1 0.5 1.0009766] pt
}
