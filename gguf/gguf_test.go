package gguf

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/tokenizer"
)

// smallConfigs are tiny models of each exported family.
func smallConfigs() map[string]model.Config {
	m2 := model.DefaultConfig()
	m2.HiddenSize, m2.NumHiddenLayers, m2.NumAttentionHeads, m2.NumKeyValueHeads, m2.IntermediateSize = 64, 2, 4, 2, 96
	m2.MaxPositionEmbeddings = 256
	m3 := model.DefaultConfig3()
	m3.HiddenSize, m3.NumHiddenLayers, m3.NumAttentionHeads, m3.NumKeyValueHeads, m3.HeadDim, m3.IntermediateSize = 64, 2, 4, 2, 32, 128
	m3.MaxPositionEmbeddings = 256
	moe := m3
	moe.UseMoE, moe.NumExperts, moe.NumExpertsPerTok, moe.MoeIntermediateSize = true, 4, 2, 64
	untied := m2
	untied.TieWordEmbeddings = false
	ernie := m2 // MiniMind2-MoE, top-2 renormalised, two shared experts
	ernie.UseMoE, ernie.NRoutedExperts, ernie.NumExpertsPerTok, ernie.NSharedExperts, ernie.NormTopkProb = true, 4, 2, 2, true
	deepseek := ernie // top-1: MiniMind2 leaves the weight unnormalised
	deepseek.NumExpertsPerTok, deepseek.NSharedExperts = 1, 1
	return map[string]model.Config{"llama": m2, "llama-untied": untied, "qwen3": m3, "qwen3moe": moe, "ernie4_5-moe": ernie, "deepseek": deepseek}
}

func newParams(t *testing.T, c model.Config) *model.Params {
	t.Helper()
	p, err := model.NewParams(c)
	if err != nil {
		t.Fatal(err)
	}
	p.Init(7)
	// Norm weights away from 1, so that a swapped norm would show.
	for _, s := range p.Specs {
		if len(s.Shape) == 1 {
			v := p.View(p.Data, s.Name)
			for i := range v {
				v[i] = 1 + 0.01*float32(i%7)
			}
		}
	}
	return p
}

func logits(t *testing.T, p *model.Params, ids []int32) []float32 {
	t.Helper()
	m := model.New(p, cpu.New(cpu.Options{Threads: 1}))
	l, err := m.Logits(ids, 1, len(ids), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), l...)
}

func maxDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// TestRoundTrip exports each family in each dtype, loads the file back and
// compares logits: identical for f32, within quantisation error otherwise.
func TestRoundTrip(t *testing.T) {
	tok, err := tokenizer.Default()
	if err != nil {
		t.Fatal(err)
	}
	ids := []int32{1, 300, 5, 4000, 77, 2, 6399, 42}
	tols := map[TensorType]float64{F32: 0, F16: 0.02, BF16: 0.1, Q8_0: 0.1}
	for name, cfg := range smallConfigs() {
		p := newParams(t, cfg)
		want := logits(t, p, ids)
		for typ, tol := range tols {
			t.Run(name+"/"+typ.String(), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "m.gguf")
				if err := Export(path, p, tok, ExportOptions{Type: typ}); err != nil {
					t.Fatal(err)
				}
				q, err := Load(path)
				if err != nil {
					t.Fatal(err)
				}
				if q.Config.Tied() != cfg.Tied() || q.Config.UseMoE != cfg.UseMoE || q.Config.Family() != cfg.Family() {
					t.Fatalf("config: tied %v moe %v family %s, want %v %v %s", q.Config.Tied(), q.Config.UseMoE, q.Config.Family(), cfg.Tied(), cfg.UseMoE, cfg.Family())
				}
				// The weights come back exactly as encoded: matrices through
				// typ (Q8_0 rows of 64 here), norms untouched.
				if want := encodedParams(t, p, typ); !equalFloats(q.Data, want) {
					t.Fatal("weights differ from their encoded values after the round trip")
				}
				if cfg.UseMoE && typ != F32 {
					return // rounding may flip a routing choice; the weights are checked
				}
				got := logits(t, q, ids)
				if d := maxDiff(got, want); d > tol {
					t.Fatalf("max |Δlogit| %g > %g", d, tol)
				} else {
					t.Logf("max |Δlogit| %g", d)
				}
			})
		}
	}
}

// encodedParams is p.Data with every matrix but the MoE routers passed
// through typ's encoding and back.
func encodedParams(t *testing.T, p *model.Params, typ TensorType) []float32 {
	t.Helper()
	out := append([]float32(nil), p.Data...)
	for _, s := range p.Specs {
		if len(s.Shape) < 2 || strings.HasSuffix(s.Name, ".mlp.gate.weight") { // norms and routers stay F32
			continue
		}
		v := p.View(out, s.Name)
		b, err := Encode(typ, v)
		if err != nil {
			t.Fatal(err)
		}
		f := &File{Name: "mem", r: bytes.NewReader(b)}
		d, err := f.ReadFloat32(&TensorInfo{Name: s.Name, Dims: []uint64{uint64(len(v))}, Type: typ})
		if err != nil {
			t.Fatal(err)
		}
		copy(v, d)
	}
	return out
}

func equalFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestPermuteRoPE checks the row order against convert_hf_to_gguf.py's
// permute for one head of size 8: reshape(2, 4).swapaxes → rows 0,4,1,5,2,6,3,7.
func TestPermuteRoPE(t *testing.T) {
	w := make([]float32, 8*2)
	for r := range 8 {
		w[2*r], w[2*r+1] = float32(r), float32(r)
	}
	got := permuteRoPE(w, 1, 8, 2, false)
	want := []float32{0, 4, 1, 5, 2, 6, 3, 7}
	for r, v := range want {
		if got[2*r] != v {
			t.Fatalf("row %d holds source row %v, want %v", r, got[2*r], v)
		}
	}
	if back := permuteRoPE(got, 1, 8, 2, true); !equalFloats(back, w) {
		t.Fatal("inverse permutation does not restore the rows")
	}
}

func TestExportRefuses(t *testing.T) {
	tok, err := tokenizer.Default()
	if err != nil {
		t.Fatal(err)
	}
	moe2 := smallConfigs()["deepseek"]
	moe2.NSharedExperts = 0
	moe3 := smallConfigs()["qwen3moe"]
	moe3.NormTopkProb = false
	yarn := smallConfigs()["llama"]
	yarn.SetInferenceRopeScaling(true)
	for name, c := range map[string]model.Config{"minimind2-moe-top1-unshared": moe2, "qwen3moe-unnormalised": moe3, "yarn": yarn} {
		t.Run(name, func(t *testing.T) {
			p := newParams(t, c)
			path := filepath.Join(t.TempDir(), "m.gguf")
			err := Export(path, p, tok, ExportOptions{Type: F32})
			if !errors.Is(err, ErrNotRepresentable) || !strings.Contains(err.Error(), path) {
				t.Fatalf("err = %v, want ErrNotRepresentable naming the file", err)
			}
			if _, serr := os.Stat(path); serr == nil {
				t.Fatal("a file was written")
			}
		})
	}
}

// TestMetadataRoundTrip writes every value type, arrays and nested arrays,
// and reads them back.
func TestMetadataRoundTrip(t *testing.T) {
	kv := []KV{
		{"a.u8", TypeUint8, uint8(7)}, {"a.i8", TypeInt8, int8(-7)},
		{"a.u16", TypeUint16, uint16(700)}, {"a.i16", TypeInt16, int16(-700)},
		{"a.u32", TypeUint32, uint32(70000)}, {"a.i32", TypeInt32, int32(-70000)},
		{"a.f32", TypeFloat32, float32(1.5)}, {"a.bool", TypeBool, true},
		{"a.str", TypeString, "héllo"}, {"a.u64", TypeUint64, uint64(1 << 40)},
		{"a.i64", TypeInt64, int64(-1 << 40)}, {"a.f64", TypeFloat64, 2.25},
		{"a.arr", TypeArray, Array{Elem: TypeInt32, Values: []int32{1, -2, 3}}},
		{"a.strs", TypeArray, Array{Elem: TypeString, Values: []string{"x", "", "yz"}}},
		{"a.nested", TypeArray, Array{Elem: TypeArray, Values: []Array{{Elem: TypeUint8, Values: []uint8{1, 2}}}}},
		{"general.alignment", TypeUint32, uint32(64)},
	}
	data, _ := Encode(F32, []float32{1, 2, 3})
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := Write(path, kv, []Tensor{{Name: "t", Dims: []uint64{3}, Type: F32, Data: data}, {Name: "u", Dims: []uint64{3}, Type: F32, Data: data}}); err != nil {
		t.Fatal(err)
	}
	f, c, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if f.Alignment != 64 || f.DataOffset%64 != 0 || f.Tensors[1].Offset != 64 {
		t.Fatalf("alignment %d, data offset %d, second tensor at %d", f.Alignment, f.DataOffset, f.Tensors[1].Offset)
	}
	for i, e := range kv {
		g := f.KV[i]
		if g.Key != e.Key || g.Type != e.Type {
			t.Fatalf("entry %d: %s %s, want %s %s", i, g.Key, g.Type, e.Key, e.Type)
		}
		if e.Type != TypeArray && g.Value != e.Value {
			t.Errorf("%s = %v, want %v", e.Key, g.Value, e.Value)
		}
	}
	if s := f.KV[13].Value.(Array).Values.([]string); len(s) != 3 || s[2] != "yz" {
		t.Errorf("string array = %q", s)
	}
	if n := f.KV[14].Value.(Array).Values.([]Array)[0].Values.([]uint8); !bytes.Equal(n, []byte{1, 2}) {
		t.Errorf("nested array = %v", n)
	}
	ti, _ := f.Tensor("u")
	v, err := f.ReadFloat32(ti)
	if err != nil || v[2] != 3 {
		t.Fatalf("tensor u = %v, %v", v, err)
	}
}

// TestBadFiles: truncations and corrupt fields give errors naming the file
// and the field, never a panic.
func TestBadFiles(t *testing.T) {
	tok, err := tokenizer.Default()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.gguf")
	if err := Export(good, newParams(t, smallConfigs()["qwen3"]), tok, ExportOptions{Type: Q8_0}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(bytes.NewReader(data), int64(len(data)), good)
	if err != nil {
		t.Fatal(err)
	}
	// Truncations at many points, including inside the metadata and data.
	for _, n := range []int{0, 3, 4, 10, 24, 30, 100, 1000, 50000, int(f.DataOffset), len(data) - 1} {
		if n >= len(data) {
			continue
		}
		path := filepath.Join(dir, "trunc.gguf")
		if err := os.WriteFile(path, data[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("truncated at %d: err = %v, want an error naming %s", n, err, path)
		}
	}
	edit := func(name string, fn func(b []byte), want string) {
		t.Run(name, func(t *testing.T) {
			b := append([]byte(nil), data...)
			fn(b)
			path := filepath.Join(dir, name+".gguf")
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v, want one naming %s and %q", err, path, want)
			}
		})
	}
	edit("magic", func(b []byte) { b[0] = 'X' }, "not a GGUF")
	edit("version", func(b []byte) { b[4] = 9 }, "version")
	edit("big-endian", func(b []byte) { copy(b[4:8], []byte{0, 0, 0, 3}) }, "big-endian")
	edit("tensor-count", func(b []byte) { b[15] = 0x7f }, "tensor_count")
	edit("kv-count", func(b []byte) { b[23] = 0x7f }, "metadata_kv_count")
	edit("first-key-length", func(b []byte) { b[31] = 0x7f }, "metadata key #0")
	edit("architecture", func(b []byte) { i := bytes.Index(b, []byte("qwen3")); copy(b[i:], "qwen9") }, `"general.architecture"`)
	edit("unknown-key", func(b []byte) {
		i := bytes.Index(b, []byte("qwen3.context_length"))
		copy(b[i:], "qwen3.contexx_length")
	}, `"qwen3.contexx_length"`)
	edit("tensor-type", func(b []byte) {
		i := bytes.Index(b, []byte("blk.0.attn_q.weight")) + len("blk.0.attn_q.weight")
		b[i+4+16] = 99 // after n_dims and two dims
	}, `tensor "blk.0.attn_q.weight"`)
	edit("tensor-name", func(b []byte) { i := bytes.Index(b, []byte("blk.1.ffn_up.weight")); copy(b[i:], "blk.1.ffn_xx") }, `"blk.1.ffn_up.weight" missing`)
}

func FuzzReader(f *testing.F) {
	kv := []KV{
		str("general.architecture", "llama"),
		{Key: "a", Type: TypeArray, Value: Array{Elem: TypeString, Values: []string{"x", "y"}}},
		{Key: "b", Type: TypeArray, Value: Array{Elem: TypeArray, Values: []Array{{Elem: TypeFloat32, Values: []float32{1}}}}},
		u32("general.alignment", 32),
	}
	q, _ := Encode(Q8_0, make([]float32, 32))
	h, _ := Encode(F16, []float32{1, 2})
	path := filepath.Join(f.TempDir(), "seed.gguf")
	if err := Write(path, kv, []Tensor{{Name: "q", Dims: []uint64{32, 1}, Type: Q8_0, Data: q}, {Name: "h", Dims: []uint64{2}, Type: F16, Data: h}}); err != nil {
		f.Fatal(err)
	}
	seed, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:40])
	// Small whole models of each architecture, so that the fuzzer reaches
	// the config and weight mapping.
	for _, c := range smallConfigs() {
		c.HiddenSize, c.NumHiddenLayers, c.VocabSize, c.IntermediateSize = 32, 1, 8, 32
		if c.IsMiniMind3() {
			c.HeadDim, c.MoeIntermediateSize = 8, 32
		}
		p, err := model.NewParams(c)
		if err != nil {
			f.Fatal(err)
		}
		arch, err := Arch(&c)
		if err != nil {
			f.Fatal(err)
		}
		tensors := exportTensors(p, arch, Q8_0)
		path := filepath.Join(f.TempDir(), arch+".gguf")
		if err := Write(path, modelKV(&c, arch, Q8_0, "fuzz"), tensors); err != nil {
			f.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("GGUF\x03\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := Parse(bytes.NewReader(b), int64(len(b)), "fuzz.gguf")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.gguf: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for i := range g.Tensors {
			if _, err := g.ReadFloat32(&g.Tensors[i]); err != nil && !strings.Contains(err.Error(), "fuzz.gguf") {
				t.Fatalf("error does not name the file: %v", err)
			}
		}
		_, _ = g.Params()
		_, _ = g.Tokenizer()
	})
}

// TestTokenizerRoundTrip: the tokenizer rebuilt from a file's metadata
// encodes, decodes and renders the chat template as the original, for the
// MiniMind2 tokenizer and (fixture present) minimind-3's, whose <think>
// and <tool_call> tokens are non-special added tokens.
func TestTokenizerRoundTrip(t *testing.T) {
	def, err := tokenizer.Default()
	if err != nil {
		t.Fatal(err)
	}
	toks := map[string]*tokenizer.Tokenizer{"minimind2": def}
	if dir := filepath.Join("..", "..", "shared", "fixtures", "minimind3-tokenizer"); fileExists(dir) {
		if toks["minimind3"], err = tokenizer.Load(dir); err != nil {
			t.Fatal(err)
		}
	}
	for name, tok := range toks {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.gguf")
			if err := Export(path, newParams(t, smallConfigs()["llama"]), tok, ExportOptions{Type: Q8_0}); err != nil {
				t.Fatal(err)
			}
			got, err := LoadTokenizer(path)
			if err != nil {
				t.Fatal(err)
			}
			if got.VocabSize() != tok.VocabSize() || got.ChatTemplate() != tok.ChatTemplate() || got.Config() != tok.Config() {
				t.Fatalf("vocab %d, config %+v; want %d, %+v", got.VocabSize(), got.Config(), tok.VocabSize(), tok.Config())
			}
			for _, text := range []string{"hello world", "你好，世界！ 123", "<|im_start|>user\nhi<|im_end|>\n", "  spaces\t\n", "<think>\nx</think>"} {
				want := tok.Encode(text)
				if ids := got.Encode(text); !slices.Equal(ids, want) {
					t.Errorf("encode %q: %v, want %v", text, ids, want)
				}
				if s := got.Decode(want); s != tok.Decode(want) {
					t.Errorf("decode %v: %q, want %q", want, s, tok.Decode(want))
				}
			}
			for id := range int32(tok.VocabSize()) {
				if got.IsSpecial(id) != tok.IsSpecial(id) || got.Token(id) != tok.Token(id) {
					t.Fatalf("id %d: %q special %v, want %q %v", id, got.Token(id), got.IsSpecial(id), tok.Token(id), tok.IsSpecial(id))
				}
			}
		})
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
