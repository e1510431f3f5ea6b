package data_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/tokenizer"
)

// Example reads SFT JSONL and walks one epoch of shuffled batches.
func Example() {
	dir, _ := os.MkdirTemp("", "data-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "sft.jsonl")
	_ = os.WriteFile(path, []byte(
		`{"conversations": [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "你好！"}]}
{"conversations": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}
{"conversations": [{"role": "user", "content": "1+1?"}, {"role": "assistant", "content": "2"}]}
`), 0o644)

	tok, err := tokenizer.Default()
	if err != nil {
		fmt.Println(err)
		return
	}
	enc, err := data.NewEncoder(tok, data.DefaultEncodeOptions(64))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	ds, err := data.LoadJSONL(ctx, []string{path}, data.KindSFT, enc, data.ReadOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	l, err := data.NewLoader(ds, data.LoaderOptions{BatchSize: 2, Shuffle: true, Seed: 42})
	if err != nil {
		fmt.Println(err)
		return
	}
	var b data.Batch
	for {
		ok, err := l.Next(ctx, &b)
		if err != nil {
			fmt.Println(err)
			return
		}
		if !ok {
			break
		}
		fmt.Printf("B=%d T=%d len(X)=%d\n", b.B, b.T, len(b.X))
	}
	fmt.Println("next epoch:", l.Epoch(), "state:", l.State().Offset)
	// Output:
	// B=2 T=63 len(X)=126
	// B=1 T=63 len(X)=63
	// next epoch: 1 state: 0
}
