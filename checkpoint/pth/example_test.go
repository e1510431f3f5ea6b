package pth_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/minimind-go/minimind/checkpoint/pth"
)

func Example() {
	dir, err := os.MkdirTemp("", "pth-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "pretrain_512.pth")

	emb := []float32{0.1, 0.2, 0.3, 0.4}
	tensors := []pth.Tensor{
		{Name: "model.embed_tokens.weight", Shape: []int{2, 2}, Data: emb},
		{Name: "lm_head.weight", Shape: []int{2, 2}, Data: emb}, // tied: one storage
	}
	if err := pth.WriteStateDict(path, tensors, "F16"); err != nil {
		fmt.Println(err)
		return
	}
	back, err := pth.ReadStateDict(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range back {
		fmt.Println(t.Name, t.DType, t.Shape, t.Data)
	}
	// Output:
	// model.embed_tokens.weight F16 [2 2] [0.099975586 0.19995117 0.30004883 0.39990234]
	// lm_head.weight F16 [2 2] [0.099975586 0.19995117 0.30004883 0.39990234]
}
