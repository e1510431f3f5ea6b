// Temporary (not committed): eval loss through the decode path (one token
// per forward with the KV cache), f32 vs q8_0.
package main

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/tokenizer"
)

func main() {
	path, tokPath, data := os.Args[1], os.Args[2], os.Args[3]
	maxLen, _ := strconv.Atoi(os.Args[4])
	docs, _ := strconv.Atoi(os.Args[5])
	tok, err := tokenizer.Load(tokPath)
	if err != nil {
		panic(err)
	}
	p, err := checkpoint.Load(path, model.DefaultConfig())
	if err != nil {
		panic(err)
	}
	f, _ := os.Open(data)
	zr, _ := gzip.NewReader(f)
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	var seqs [][]int32
	for sc.Scan() && len(seqs) < docs {
		var d struct{ Text string }
		json.Unmarshal(sc.Bytes(), &d)
		ids := tok.Encode(d.Text)
		ids = append(append([]int32{1}, ids[:min(len(ids), maxLen-2)]...), 2)
		seqs = append(seqs, ids)
	}
	be := cpu.New(cpu.Options{})
	m := model.New(p, be)
	if os.Getenv("LOGITS") != "" {
		ids := seqs[0]
		var ref []float32
		for _, dt := range []string{"f32", "q8_0"} {
			m.SetInferenceDType(dt)
			l, err := m.Logits(ids, 1, len(ids), nil, 0)
			if err != nil {
				panic(err)
			}
			if ref == nil {
				ref = append([]float32(nil), l...)
				continue
			}
			var md, mx float64
			for i := range l {
				md = math.Max(md, math.Abs(float64(l[i]-ref[i])))
				mx = math.Max(mx, math.Abs(float64(ref[i])))
			}
			fmt.Printf("prefill logits %s vs f32: max diff %.4g (max |logit| %.3g), %d rows\n", dt, md, mx, len(ids))
		}
		return
	}
	for _, dt := range []string{"f32", "bf16", "q8_0"} {
		if err := m.SetInferenceDType(dt); err != nil {
			panic(err)
		}
		var sum float64
		n := 0
		for _, ids := range seqs {
			kv, _ := m.NewKVCache(1, len(ids))
			for j := 0; j+1 < len(ids); j++ {
				l, err := m.Forward(kv, ids[j:j+1], 1, nil, 1)
				if err != nil {
					panic(err)
				}
				mx := float64(l[0])
				for _, v := range l {
					mx = math.Max(mx, float64(v))
				}
				var z float64
				for _, v := range l {
					z += math.Exp(float64(v) - mx)
				}
				sum += mx + math.Log(z) - float64(l[ids[j+1]])
				n++
			}
		}
		fmt.Printf("%s decode-path loss %.6f over %d tokens (hidden %d)\n", dt, sum/float64(n), n, p.Config.HiddenSize)
	}
}
