package tokenizer_test

import (
	"fmt"

	"github.com/minimind-go/minimind/tokenizer"
)

func ExampleDefault() {
	tok, err := tokenizer.Default()
	if err != nil {
		panic(err)
	}
	ids := tok.Encode("<|im_start|>user\n你好<|im_end|>")
	fmt.Println(ids[0], ids[len(ids)-1], tok.Decode(ids) == "<|im_start|>user\n你好<|im_end|>")
	// Output: 1 2 true
}

func ExampleTokenizer_NewStreamDecoder() {
	tok, err := tokenizer.Default()
	if err != nil {
		panic(err)
	}
	d := tok.NewStreamDecoder()
	for _, id := range tok.Encode("好😀") {
		fmt.Printf("%q ", d.Add(id)) // the emoji appears only once complete
	}
	fmt.Printf("%q\n", d.Flush())
	// Output: "好" "" "" "" "😀" ""
}
