package pth

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/half"
	"github.com/minimind-go/minimind/internal/fixture"
)

// loadSafetensors returns the tensors of a fixture's model.safetensors by name.
func loadSafetensors(tb testing.TB, name string) map[string]Tensor {
	tb.Helper()
	f, err := safetensors.ReadFile(filepath.Join(fixture.Dir(tb, name), "model.safetensors"))
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]Tensor{}
	for _, t := range f.Tensors {
		x, err := t.Float32s()
		if err != nil {
			tb.Fatal(err)
		}
		out[t.Name] = Tensor{Name: t.Name, DType: string(t.DType), Shape: t.Shape, Data: x}
	}
	return out
}

func roundTo(x []float32, dtype string) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		switch dtype {
		case "F16":
			out[i] = half.F16ToFloat32(half.Float32ToF16(v))
		case "BF16":
			out[i] = half.BF16ToFloat32(half.Float32ToBF16(v))
		default:
			out[i] = v
		}
	}
	return out
}

// equalBits compares float32 slices bit for bit (so -0 and NaN are exact).
func equalBits(a, b []float32) (int, bool) {
	if len(a) != len(b) {
		return -1, false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i, false
		}
	}
	return 0, true
}

func TestReadFixtures(t *testing.T) {
	t.Parallel()
	dir := fixture.Dir(t, "pth")
	dense := loadSafetensors(t, "tiny-dense")
	moe := loadSafetensors(t, "tiny-moe")
	tests := []struct {
		file   string
		want   map[string]Tensor
		dtype  string
		prefix string
	}{
		{"tiny-dense.fp16.pth", dense, "F16", ""},
		{"tiny-dense.fp32.pth", dense, "F32", ""},
		{"tiny-dense.bf16.pth", dense, "BF16", ""},
		{"tiny-dense.ddp-prefix.fp16.pth", dense, "F16", "module."},
		{"tiny-moe.fp16.pth", moe, "F16", ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			got, err := ReadStateDict(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			// Every safetensors key plus the tied lm_head alias.
			if len(got) != len(tt.want)+1 {
				t.Errorf("got %d tensors, want %d", len(got), len(tt.want)+1)
			}
			seen := map[string]bool{}
			for _, g := range got {
				name, ok := strings.CutPrefix(g.Name, tt.prefix)
				if !ok {
					t.Errorf("key %q lacks prefix %q", g.Name, tt.prefix)
				}
				seen[name] = true
				if name == "lm_head.weight" {
					name = "model.embed_tokens.weight" // tied
				}
				w, ok := tt.want[name]
				if !ok {
					t.Errorf("unexpected key %q", g.Name)
					continue
				}
				if g.DType != tt.dtype || !reflect.DeepEqual(g.Shape, w.Shape) {
					t.Errorf("%s: %s %v, want %s %v", g.Name, g.DType, g.Shape, tt.dtype, w.Shape)
				}
				if i, ok := equalBits(g.Data, roundTo(w.Data, tt.dtype)); !ok {
					t.Errorf("%s: values differ at %d", g.Name, i)
				}
			}
			if !seen["lm_head.weight"] {
				t.Error("lm_head.weight missing")
			}
			if got[0].Name != tt.prefix+"model.embed_tokens.weight" {
				t.Errorf("first key %q: dict order not kept", got[0].Name)
			}
		})
	}
}

func sampleTensors() []Tensor {
	emb := []float32{1, -2, 3.14159, 1e-8, 65504, 70000, -0.1, 0.5}
	return []Tensor{
		{Name: "model.embed_tokens.weight", Shape: []int{4, 2}, Data: emb},
		{Name: "model.norm.weight", Shape: []int{3}, Data: []float32{1.5, float32(math.Inf(-1)), 2}},
		{Name: "scalar", Shape: []int{}, Data: []float32{7}},
		{Name: "empty", Shape: []int{0, 3}, Data: []float32{}},
		{Name: "lm_head.weight", Shape: []int{4, 2}, Data: emb}, // tied: same slice
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	t.Parallel()
	for _, dtype := range []string{"F32", "F16", "BF16"} {
		t.Run(dtype, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(t.TempDir(), "ckpt.pth")
			in := sampleTensors()
			if err := WriteStateDict(p, in, dtype); err != nil {
				t.Fatal(err)
			}
			got, err := ReadStateDict(p)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(in) {
				t.Fatalf("got %d tensors, want %d", len(got), len(in))
			}
			for i, w := range in {
				g := got[i]
				if g.Name != w.Name || g.DType != dtype || !reflect.DeepEqual(g.Shape, w.Shape) {
					t.Errorf("tensor %d: %s %s %v, want %s %s %v", i, g.Name, g.DType, g.Shape, w.Name, dtype, w.Shape)
				}
				if j, ok := equalBits(g.Data, roundTo(w.Data, dtype)); !ok {
					t.Errorf("%s: values differ at %d: %v vs %v", w.Name, j, g.Data, roundTo(w.Data, dtype))
				}
			}
			checkArchive(t, p, 4) // the tied pair shares one storage
		})
	}
}

// checkArchive verifies the zip layout torch expects: data.pkl first, data
// records 64-byte aligned, a version record, and nstorages storages.
func checkArchive(tb testing.TB, path string, nstorages int) {
	tb.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer zr.Close()
	if zr.File[0].Name != "archive/data.pkl" {
		tb.Errorf("first record %s, want archive/data.pkl", zr.File[0].Name)
	}
	n, version := 0, false
	for _, f := range zr.File {
		off, err := f.DataOffset()
		if err != nil {
			tb.Fatal(err)
		}
		if off%64 != 0 {
			tb.Errorf("%s data at offset %d, not 64-byte aligned", f.Name, off)
		}
		if f.Method != zip.Store {
			tb.Errorf("%s is compressed", f.Name)
		}
		if strings.HasPrefix(f.Name, "archive/data/") {
			n++
		}
		version = version || f.Name == "archive/version"
	}
	if n != nstorages || !version {
		tb.Errorf("%d storages (want %d), version record %v", n, nstorages, version)
	}
}

func TestWriteErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "x.pth")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		tensors []Tensor
		dtype   string
		want    string
	}{
		{"bad dtype", sampleTensors(), "F64", `dtype "F64" is not F32, F16 or BF16`},
		{"shape mismatch", []Tensor{{Name: "a", Shape: []int{3}, Data: []float32{1}}}, "F16", `tensor "a": shape [3] needs 3 values, have 1`},
		{"negative dim", []Tensor{{Name: "a", Shape: []int{-1}}}, "F16", `"a" has negative dimension`},
		{"duplicate", []Tensor{{Name: "a", Shape: []int{}, Data: []float32{1}}, {Name: "a", Shape: []int{}, Data: []float32{1}}}, "F16", `"a" appears twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := WriteStateDict(p, tt.tensors, tt.dtype)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want containing %q", err, tt.want)
			}
		})
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Error("a failed write changed the old file")
	}
}

// zipOf builds a zip archive from name/content pairs.
func zipOf(tb testing.TB, files ...string) []byte {
	tb.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for i := 0; i < len(files); i += 2 {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: files[i], Method: zip.Store})
		if err != nil {
			tb.Fatal(err)
		}
		w.Write([]byte(files[i+1]))
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// rebuild returns the pickle of {name: tensor} with the given view
// parameters, written by hand so tests can express invalid views.
func rebuildPickle(key, class string, numel, offset int, size, stride string) string {
	return fmt.Sprintf("\x80\x02}(X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\n%s\nX%c\x00\x00\x00%sX\x03\x00\x00\x00cpuK%ctQK%c%s%s\x89ccollections\nOrderedDict\n)RtRu.",
		class, rune(len(key)), key, rune(numel), rune(offset), size, stride)
}

func TestReadStrided(t *testing.T) {
	t.Parallel()
	// Storage of 6 float32 0..5; view: transpose of a [2,3] matrix, and an
	// offset row.
	var st bytes.Buffer
	for _, v := range safetensors.FromFloat32("", nil, []float32{0, 1, 2, 3, 4, 5}, safetensors.F32).Data {
		st.WriteByte(v)
	}
	tests := []struct {
		name   string
		pkl    string
		shape  []int
		want   []float32
		errMsg string
	}{
		{"transposed", rebuildPickle("0", "FloatStorage", 6, 0, "K\x03K\x02\x86", "K\x01K\x03\x86"), []int{3, 2}, []float32{0, 3, 1, 4, 2, 5}, ""},
		{"offset row", rebuildPickle("0", "FloatStorage", 6, 3, "K\x03\x85", "K\x01\x85"), []int{3}, []float32{3, 4, 5}, ""},
		{"every other", rebuildPickle("0", "FloatStorage", 6, 1, "K\x03\x85", "K\x02\x85"), []int{3}, []float32{1, 3, 5}, ""},
		{"past storage", rebuildPickle("0", "FloatStorage", 6, 4, "K\x03\x85", "K\x01\x85"), nil, nil, "reaches element 6 of a storage of 6"},
		{"too large", rebuildPickle("0", "FloatStorage", 6, 0, "K\x07\x85", "K\x00\x85"), nil, nil, "larger than its storage"},
		{"rank mismatch", rebuildPickle("0", "FloatStorage", 6, 0, "K\x03\x85", "K\x01K\x01\x86"), nil, nil, "differ in rank"},
		{"wrong numel", rebuildPickle("0", "FloatStorage", 5, 0, "K\x03\x85", "K\x01\x85"), nil, nil, `storage "0" holds 24 bytes, want 5 elements of F32`},
		{"missing storage", rebuildPickle("9", "FloatStorage", 6, 0, "K\x03\x85", "K\x01\x85"), nil, nil, `storage record "a/data/9" is missing`},
		{"int storage", rebuildPickle("0", "IntStorage", 6, 0, "K\x03\x85", "K\x01\x85"), nil, nil, `key "w" has dtype I32`},
		{"unknown storage", rebuildPickle("0", "ComplexFloatStorage", 6, 0, "K\x03\x85", "K\x01\x85"), nil, nil, "global torch.ComplexFloatStorage not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := zipOf(t, "a/data.pkl", tt.pkl, "a/data/0", st.String(), "a/version", "3\n")
			got, err := ReadStateDictFrom(bytes.NewReader(data), int64(len(data)))
			if tt.errMsg != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errMsg) {
					t.Errorf("error %v, want containing %q", err, tt.errMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || !reflect.DeepEqual(got[0].Shape, tt.shape) || !reflect.DeepEqual(got[0].Data, tt.want) {
				t.Errorf("got %+v, want shape %v data %v", got, tt.shape, tt.want)
			}
		})
	}
}

func TestReadRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "pth: reading header"},
		{"not zip", []byte("hello world, not a zip"), "not a torch zip checkpoint"},
		{"legacy format", []byte{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc}, "legacy"},
		{"no data.pkl", zipOf(t, "a/other", "x"), "no <prefix>/data.pkl"},
		{"nested dict", zipOf(t, "a/data.pkl", "\x80\x02}(X\x05\x00\x00\x00model}u."), `key "model" holds a nested dict`},
		{"list top", zipOf(t, "a/data.pkl", "\x80\x02]."), "holds list, not a state dict"},
		{"int value", zipOf(t, "a/data.pkl", "\x80\x02}(X\x04\x00\x00\x00stepK\x05u."), `key "step" holds int, not a tensor`},
		{"evil pickle", zipOf(t, "a/data.pkl", "\x80\x02cos\nsystem\n."), "global os.system not allowed"},
		{"big endian", zipOf(t, "a/data.pkl", "\x80\x02}.", "a/byteorder", "big"), `byteorder "big"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadStateDictFrom(bytes.NewReader(tt.data), int64(len(tt.data)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want containing %q", err, tt.want)
			}
		})
	}
	if _, err := ReadStateDict(filepath.Join(t.TempDir(), "missing.pth")); err == nil {
		t.Error("reading a missing file succeeded")
	}
}

func TestReadTruncated(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(fixture.Dir(t, "pth"), "tiny-dense.fp16.pth"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 4, 100, 1000, len(data) / 2, len(data) - 100, len(data) - 1} {
		if _, err := ReadStateDictFrom(bytes.NewReader(data[:n]), int64(n)); err == nil {
			t.Errorf("reading the first %d of %d bytes succeeded", n, len(data))
		}
	}
	// Flip bytes inside a storage: the zip CRC check must catch it.
	bad := bytes.Clone(data)
	bad[len(bad)/2] ^= 0xff
	if _, err := ReadStateDictFrom(bytes.NewReader(bad), int64(len(bad))); err == nil {
		t.Error("a corrupted storage was accepted")
	}
}

// runTorch runs a Python script that needs torch, once, in the first
// python3 that has it; importing torch takes seconds, so the interop test
// does all its Python work in one process. It skips the test when no
// interpreter has torch.
func runTorch(tb testing.TB, script string, args ...string) string {
	tb.Helper()
	const noTorch = 86 // exit status the prelude uses when torch is missing
	prelude := "import sys\ntry:\n    import torch\nexcept ImportError:\n    sys.exit(86)\n"
	for _, py := range []string{os.Getenv("MINIMIND_TORCH_PYTHON"), "python3", "/usr/bin/python3"} {
		if py == "" {
			continue
		}
		if _, err := exec.LookPath(py); err != nil {
			continue
		}
		out, err := exec.Command(py, append([]string{"-c", prelude + script}, args...)...).CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == noTorch {
			continue
		}
		if err != nil {
			tb.Fatalf("%s: %v\n%s", py, err, out)
		}
		return string(out)
	}
	tb.Skip("no python3 with torch: install the Debian package python3-torch, or set MINIMIND_TORCH_PYTHON")
	return ""
}

// TestTorchInterop checks both directions against real torch: torch.load of
// our files in each dtype, and reading a state dict torch.save wrote (with a
// non-contiguous view, a storage offset, tied tensors and a Parameter).
func TestTorchInterop(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := sampleTensors()
	dtypes := []string{"F16", "BF16", "F32"}
	var args []string
	var want strings.Builder
	for _, dtype := range dtypes {
		p := filepath.Join(dir, dtype+".pth")
		if err := WriteStateDict(p, in, dtype); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
		torchName := map[string]string{"F16": "torch.float16", "BF16": "torch.bfloat16", "F32": "torch.float32"}[dtype]
		for _, tn := range in {
			vals := []string{tn.Name, torchName, pyList(tn.Shape)}
			for _, v := range roundTo(tn.Data, dtype) {
				vals = append(vals, pyFloat(v))
			}
			want.WriteString(strings.Join(vals, " ") + "\n")
		}
		want.WriteString("tied True\n")
	}
	saved := filepath.Join(dir, "torch.pth")
	args = append(args, saved)

	out := runTorch(t, `import collections
for path in sys.argv[1:4]:
    sd = torch.load(path)
    for k, v in sd.items():
        print(" ".join([k, str(v.dtype), str(list(v.shape))] + [repr(float(x)) for x in v.float().flatten().tolist()]))
    print("tied", sd["lm_head.weight"].storage().data_ptr() == sd["model.embed_tokens.weight"].storage().data_ptr())
base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 8 - 1
sd = collections.OrderedDict()
sd["t"] = base.t()                      # non-contiguous view
sd["row"] = base[2]                     # storage offset 12
sd["half"] = base.half()
sd["bf"] = base[:, 1:4].bfloat16()      # strided slice, converted (contiguous copy)
sd["a"] = base
sd["tied"] = base                       # same storage as "a"
sd["p"] = torch.nn.Parameter(torch.ones(2, 2))
torch.save(sd, sys.argv[4])`, args...)
	if out != want.String() {
		t.Errorf("torch.load of our files printed\n%s\nwant\n%s", out, want.String())
	}

	got, err := ReadStateDict(saved)
	if err != nil {
		t.Fatal(err)
	}
	base := make([]float32, 24)
	for i := range base {
		base[i] = float32(i)/8 - 1
	}
	at := func(r, c int) float32 { return base[r*6+c] }
	var tr, bf []float32
	for c := range 6 {
		for r := range 4 {
			tr = append(tr, at(r, c))
		}
	}
	for r := range 4 {
		for c := 1; c < 4; c++ {
			bf = append(bf, at(r, c))
		}
	}
	wantT := []Tensor{
		{"t", "F32", []int{6, 4}, tr},
		{"row", "F32", []int{6}, base[12:18]},
		{"half", "F16", []int{4, 6}, roundTo(base, "F16")},
		{"bf", "BF16", []int{4, 3}, roundTo(bf, "BF16")},
		{"a", "F32", []int{4, 6}, base},
		{"tied", "F32", []int{4, 6}, base},
		{"p", "F32", []int{2, 2}, []float32{1, 1, 1, 1}},
	}
	if !reflect.DeepEqual(got, wantT) {
		t.Errorf("read torch.save output:\n got %+v\nwant %+v", got, wantT)
	}
}

// pyFloat formats v as Python's repr(float(v)) does for the values in
// sampleTensors.
func pyFloat(v float32) string {
	f := float64(v)
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	s := fmt.Sprintf("%v", f)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

func pyList(shape []int) string {
	s := make([]string, len(shape))
	for i, d := range shape {
		s[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func FuzzReadStateDict(f *testing.F) {
	var small bytes.Buffer
	if p := filepath.Join(f.TempDir(), "s.pth"); WriteStateDict(p, sampleTensors(), "F16") == nil {
		b, _ := os.ReadFile(p)
		small.Write(b)
	}
	f.Add(small.Bytes())
	f.Add(small.Bytes()[:small.Len()/2])
	f.Add(zipOf(f, "a/data.pkl", rebuildPickle("0", "FloatStorage", 6, 0, "K\x03K\x02\x86", "K\x01K\x03\x86"), "a/data/0", strings.Repeat("\x00", 24)))
	f.Add(zipOf(f, "a/data.pkl", "\x80\x02}(X\x05\x00\x00\x00model}u."))
	f.Add(bombPth(f, 12))
	f.Add(bombPth(f, 30))
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, err := ReadStateDictFrom(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			// Errors describe values by type and size, never print them.
			if len(err.Error()) > maxErrorLen {
				t.Fatalf("error of %d bytes: %.300s", len(err.Error()), err)
			}
			return
		}
		for _, x := range ts {
			n := 1
			for _, s := range x.Shape {
				n *= s
			}
			if n != len(x.Data) {
				t.Fatalf("%s: shape %v but %d values", x.Name, x.Shape, len(x.Data))
			}
		}
	})
}

// maxErrorLen bounds every reading error: names and values are cut, so a
// message is a line or two whatever the file holds.
const maxErrorLen = 1000

// tupleBomb returns pickle opcodes that leave t_depth on the stack, where
// t0 = () and t_k = (t_{k-1}, t_{k-1}) by memo references: 2^(depth+1)-1
// values when expanded, 18 bytes per level.
func tupleBomb(depth int) string {
	var b strings.Builder
	put := func(i int) { b.WriteString("r" + string([]byte{byte(i), byte(i >> 8), 0x10, 0})) }
	get := func(i int) { b.WriteString("j" + string([]byte{byte(i), byte(i >> 8), 0x10, 0})) }
	b.WriteString(")")
	put(0)
	for i := 1; i <= depth; i++ {
		b.WriteString("0") // POP the previous level; the memo keeps it
		get(i - 1)
		get(i - 1)
		b.WriteString("\x86")
		put(i)
	}
	return b.String()
}

// bombPth is a state dict {"w": tensor} whose storage offset is a tuple
// bomb: the 0.7 KB .pth that once exhausted memory when an error message
// printed the offset with %v.
func bombPth(tb testing.TB, depth int) []byte {
	tb.Helper()
	pkl := "\x80\x02}(X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x06tQ" +
		tupleBomb(depth) + "K\x06\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtRu."
	return zipOf(tb, "a/data.pkl", pkl, "a/data/0", strings.Repeat("\x00", 24))
}

func TestReadBomb(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		depth int
		want  string
	}{
		// Under the unpickler's limits: the offset reaches the error
		// path, which must describe it, not print 2^21 values.
		{"depth 20", 20, `pth: key "w": storage offset (tuple of 2 items) is not a non-negative int`},
		{"depth 24", 24, "pickle limit exceeded"},
		{"depth 40", 40, "pickle limit exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := bombPth(t, tt.depth)
			if len(data) > 1500 {
				t.Fatalf("bomb of %d bytes; it should stay tiny", len(data))
			}
			start := time.Now()
			_, err := ReadStateDictFrom(bytes.NewReader(data), int64(len(data)))
			// A hang guard far above the milliseconds this takes (it took
			// 17 s and 765 MB at depth 24 before).
			if d := time.Since(start); d > time.Minute {
				t.Errorf("took %v", d)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %.300v, want one containing %q", err, tt.want)
			}
			if len(err.Error()) > maxErrorLen {
				t.Errorf("error of %d bytes", len(err.Error()))
			}
		})
	}
}
