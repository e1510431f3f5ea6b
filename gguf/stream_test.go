package gguf

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/tokenizer"
)

// TestExportGolden pins Export's bytes: the SHA-256 of each family in each
// dtype, computed with the writer that encoded every tensor before writing
// (before Write streamed them). A change here alters the files users get;
// update a hash only for a change meant to do that. "ernie-straddle" has
// an FFN width of 48: Q8_0 blocks of its wide shared-expert down rows span
// two experts, and its experts' down matrices fall back to F16.
func TestExportGolden(t *testing.T) {
	tok, err := tokenizer.Default()
	if err != nil {
		t.Fatal(err)
	}
	cfgs := smallConfigs()
	straddle := cfgs["ernie4_5-moe"]
	straddle.IntermediateSize = 48
	cfgs["ernie-straddle"] = straddle
	for _, tc := range []struct {
		name string
		typ  TensorType
		hash string
	}{
		{"deepseek", F32, "9c920c97ae9e4e2a0db4e2a992e57d33856f92f0176fb1ed499b65a3dea5b6d2"},
		{"deepseek", F16, "f5b1c76ff226a03ed0b24625cbef5e3d940b12457cad1bc8a70ca752f0ec4784"},
		{"deepseek", BF16, "2d2f470981fc46a1a89f38ac47aa9a2883c1dee64302bc4417f9c0c11b59870d"},
		{"deepseek", Q8_0, "bfcfc559fe4f81adb334d05e5cf860a8a097c67d3bcd7083ae2bfb1cfa22cd9b"},
		{"ernie4_5-moe", F32, "df7e9eb12a53616329f1d3506ee9053abbf780963ac8f71dc5e231f5b5d6e936"},
		{"ernie4_5-moe", F16, "acae7a33adfa4fdf0a322a0b86ba37975a994a183290941ca2f496a8e027a991"},
		{"ernie4_5-moe", BF16, "1bd1391d8609bde0813c96b47a6e30b4f61e7fe0c216d878476b66db2f340a12"},
		{"ernie4_5-moe", Q8_0, "9f358351c0117abec84821a1d25cc83b1ba3a806ac4813bb67d149fbfe74f4f3"},
		{"ernie-straddle", F32, "e17370687dbac1ad075b4dc07a8fc58d66578acde9e94f789a0581e9d05de3c9"},
		{"ernie-straddle", F16, "2b92e6ec10fe5fff4d4c6b311d0713ebc6ce89f26f4548980f0280cfbcb55ee8"},
		{"ernie-straddle", BF16, "4740fa8e35c51191bb6778d1838221ba8cef9162d40717da5e8bf73ebec56760"},
		{"ernie-straddle", Q8_0, "0eb6b81f0dedb954751a4d24c3bc6d0be3e0e513320c2cfe05d9c7e1226c42ed"},
		{"llama", F32, "585384e180137620302e7df6a7950054dcbec346537af8f655d405456a9512e9"},
		{"llama", F16, "3954fb43eddb1029314fee3639009ccbf88f8d409d335c28e2f63389dac9dfa9"},
		{"llama", BF16, "f6dd67e9f2e3adca820fea4ea8f4a7f130fbb9d6b41ddf51d32a9350e1e10136"},
		{"llama", Q8_0, "fb0809a62d7f98f96a35497eadeaee903096a38f8770985c35b69388542bc543"},
		{"llama-untied", F32, "4728042b2f4bbc2187e6545f1e250ea68ea71067eaadd4bc796a9bb5a80cce20"},
		{"llama-untied", F16, "1e1bd2dc5224acbaa19112dec37d6afaf7b592c03018f0f21b201ba12e5b0069"},
		{"llama-untied", BF16, "ba863e93a33f59612d4645fb33f1cdc2814e6d4b474bde3ba86a5c038de0ebf5"},
		{"llama-untied", Q8_0, "b1e8260e0d3f036d788d6944bbc84c070e794872d0ea44ddf2130fa1aa8fd950"},
		{"qwen3", F32, "131d7e439ad3294922bf72c29de8689fe1170d066b55ba5dabc54999ac61ca7b"},
		{"qwen3", F16, "60db97af0b685afc1eb69f32cff91e5f7d63621e4305e983e2837547b72bce96"},
		{"qwen3", BF16, "083a80b6ea9ca07633e12f3a8e63544ce52dec7192b70f597366bb53f1fb58cb"},
		{"qwen3", Q8_0, "29962800c8f2fc12e910b530ee46b642266364563c09c3dbffa32a4056404f50"},
		{"qwen3moe", F32, "05e7e030edd89b169e811a5b40ccd89eced81c805118743937a75900da51fc8b"},
		{"qwen3moe", F16, "b935e14a41ff719e16150f41af18df7554655213b9fe64607930cf3de5cd02d1"},
		{"qwen3moe", BF16, "27a6b0dcd36c5d818866f5ba7499cbfdca391a49e7b0f85428ec9bef0962f33f"},
		{"qwen3moe", Q8_0, "02ccfb585356b7df595fd0ad08b832373011a00112323f8f6a0a81502d1f56c8"},
	} {
		t.Run(tc.name+"/"+tc.typ.String(), func(t *testing.T) {
			p := newParams(t, cfgs[tc.name])
			path := filepath.Join(t.TempDir(), "m.gguf")
			if err := Export(path, p, tok, ExportOptions{Type: tc.typ}); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%x", sha256.Sum256(b)); got != tc.hash {
				t.Errorf("sha256 %s, want %s", got, tc.hash)
			}
		})
	}
}

// TestExportStreams: Export allocates far less than the encoded tensors'
// total, as it encodes one tensor at a time into a buffer the tensors
// share (it allocated all of them before Write streamed).
func TestExportStreams(t *testing.T) {
	tok, err := tokenizer.Default()
	if err != nil {
		t.Fatal(err)
	}
	c := model.DefaultConfig() // 24 layers of width 128: no tensor dominates
	c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.NumKeyValueHeads, c.IntermediateSize = 128, 24, 4, 2, 384
	c.MaxPositionEmbeddings = 64
	p := newParams(t, c)
	arch, err := Arch(&p.Config)
	if err != nil {
		t.Fatal(err)
	}
	total := uint64(0)
	for _, x := range exportTensors(p, arch, F32) {
		info := TensorInfo{Dims: x.Dims, Type: x.Type}
		total += info.Bytes()
	}
	path := filepath.Join(t.TempDir(), "m.gguf")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := Export(path, p, tok, ExportOptions{Type: F32}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	// Besides the largest tensor, the tokenizer's metadata and the 1 MiB
	// write buffer are allocated; total is about 26 MB, the largest tensor 3.3 MB.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > total/2 {
		t.Errorf("Export allocated %d bytes for %d bytes of tensors: they are not streamed", alloc, total)
	} else {
		t.Logf("Export allocated %d bytes for %d bytes of tensors", alloc, total)
	}
}

// TestWriteFillErrors: a failing Fill leaves neither the file nor a
// temporary behind and names the tensor; Fill with Data, or a Q8_0 row
// that is not whole blocks, is refused before anything is written.
func TestWriteFillErrors(t *testing.T) {
	boom := errors.New("boom")
	ok := func(dst []byte) error { clear(dst); return nil }
	for _, tc := range []struct {
		name    string
		tensors []Tensor
		want    []string
	}{
		{"fill fails", []Tensor{
			{Name: "a", Dims: []uint64{4}, Type: F32, Fill: ok},
			{Name: "b", Dims: []uint64{4}, Type: F32, Fill: func([]byte) error { return boom }},
		}, []string{`tensor "b"`, "boom"}},
		{"data and fill", []Tensor{{Name: "a", Dims: []uint64{4}, Type: F32, Data: make([]byte, 16), Fill: ok}}, []string{`"a"`, "both Data and Fill"}},
		{"partial q8_0 block", []Tensor{{Name: "q", Dims: []uint64{48, 2}, Type: Q8_0, Fill: ok}}, []string{`"q"`, "whole blocks of 32"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "m.gguf")
			err := Write(path, nil, tc.tensors)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if errors.Is(err, boom) != (tc.name == "fill fails") {
				t.Errorf("error %v: errors.Is(boom) wrong", err)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("left behind: %v", ents)
			}
		})
	}
}

// TestWriteFillMatchesData: tensors given by Fill are written exactly as
// the same bytes given as Data, and Fill gets exactly its tensor's size.
func TestWriteFillMatchesData(t *testing.T) {
	q, err := Encode(Q8_0, make([]float32, 64))
	if err != nil {
		t.Fatal(err)
	}
	q[5] = 9
	h := []byte{1, 2, 3, 4, 5, 6}
	data := []Tensor{{Name: "q", Dims: []uint64{32, 2}, Type: Q8_0, Data: q}, {Name: "h", Dims: []uint64{3}, Type: F16, Data: h}}
	var lazy []Tensor
	for _, x := range data {
		b := x.Data
		lazy = append(lazy, Tensor{Name: x.Name, Dims: x.Dims, Type: x.Type, Fill: func(dst []byte) error {
			if len(dst) != len(b) {
				return fmt.Errorf("dst holds %d bytes, want %d", len(dst), len(b))
			}
			copy(dst, b)
			return nil
		}})
	}
	dir := t.TempDir()
	kv := []KV{str("general.name", "x")}
	for name, ts := range map[string][]Tensor{"data": data, "fill": lazy} {
		if err := Write(filepath.Join(dir, name), kv, ts); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := os.ReadFile(filepath.Join(dir, "data"))
	b, _ := os.ReadFile(filepath.Join(dir, "fill"))
	if string(a) != string(b) || len(a) == 0 {
		t.Fatalf("files differ (%d and %d bytes)", len(a), len(b))
	}
}
