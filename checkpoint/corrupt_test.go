package checkpoint_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/model/modeltest"
)

// campaign turns TestCorruptFiles into the full corrupt-file campaign
// (thousands of variants and a table in the log):
//
//	go test ./checkpoint -run TestCorruptFiles -campaign -v
var campaign = flag.Bool("campaign", false, "run the full corrupt-file campaign and log its table")

// outcome classifies one load of a corrupt variant.
type outcome int

const (
	cleanError outcome = iota
	panicked
	hung
	loadedSame    // loaded, and what it loaded equals the original
	loadedChanged // loaded something different: silently wrong
)

var outcomeNames = []string{"clean error", "panic", "hang", "loaded, unchanged", "silently wrong"}

// kind is one file format under test, with its real loader.
type kind struct {
	name string
	// checksummed: files of this kind carry our CRC32C, so loading a
	// changed one is a failure whatever it loads.
	checksummed bool
	// path is where the variant's bytes go; load reads it (extra files such
	// as config.json are written by setup).
	path func(dir string) string
	load func(dir string) (any, error)
}

// variant is one corrupt file: its class, its bytes, and an optional
// setup of the directory (config.json, for the HF kind).
type variant struct {
	class string
	what  string // the particular variant, for failure messages
	data  []byte
	setup func(dir string) error
	// wantError: a load that succeeds is silently wrong even if what
	// loads looks unchanged (absurd configs, hostile pickles).
	wantError bool
}

// runOne loads a variant in its own goroutine, with recover and a timeout.
func runOne(k kind, v variant, dir string, want any, timeout time.Duration) (outcome, string) {
	if err := os.WriteFile(k.path(dir), v.data, 0o644); err != nil {
		return panicked, "setup: " + err.Error()
	}
	if v.setup != nil {
		if err := v.setup(dir); err != nil {
			return panicked, "setup: " + err.Error()
		}
	}
	type result struct {
		got   any
		err   error
		panic any
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- result{panic: r}
			}
		}()
		got, err := k.load(dir)
		done <- result{got: got, err: err}
	}()
	select {
	case r := <-done:
		switch {
		case r.panic != nil:
			return panicked, fmt.Sprint(r.panic)
		case r.err != nil:
			return cleanError, r.err.Error()
		case !v.wantError && reflect.DeepEqual(r.got, want):
			return loadedSame, ""
		default:
			return loadedChanged, ""
		}
	case <-time.After(timeout):
		return hung, ""
	}
}

// tally counts outcomes per kind and class.
type tally struct {
	rows  []string
	count map[string]*[5]int
	notes []string
	// longest error message seen
	maxErr int
}

func (t *tally) add(row string, o outcome) {
	if t.count == nil {
		t.count = map[string]*[5]int{}
	}
	c, ok := t.count[row]
	if !ok {
		c = new([5]int)
		t.count[row] = c
		t.rows = append(t.rows, row)
	}
	c[o]++
}

func (t *tally) table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-62s %7s %6s %5s %5s %10s %7s\n", "file / class", "variants", "error", "panic", "hang", "unchanged", "WRONG")
	var tot [5]int
	for _, r := range t.rows {
		c := t.count[r]
		n := c[0] + c[1] + c[2] + c[3] + c[4]
		fmt.Fprintf(&b, "%-62s %7d %6d %5d %5d %10d %7d\n", r, n, c[cleanError], c[panicked], c[hung], c[loadedSame], c[loadedChanged])
		for i := range tot {
			tot[i] += c[i]
		}
	}
	fmt.Fprintf(&b, "%-62s %7d %6d %5d %5d %10d %7d\n", "total", tot[0]+tot[1]+tot[2]+tot[3]+tot[4], tot[0], tot[1], tot[2], tot[3], tot[4])
	return b.String()
}

// TestCorruptFiles loads corrupt variants of every file kind we write (a
// .pth, an HF directory, a resume file) with the real loaders: truncations,
// bit flips, zero-length and wrong-type files, hostile pickles and absurd
// config sizes. None may panic or hang; none of our checksummed files may
// load once changed; hostile pickles and absurd configs must be errors. A
// .pth flip may load unchanged when it lands where the zip format checks
// nothing (local header names, torch's alignment padding); it is counted,
// not failed. Without -campaign it runs a sample of each class.
func TestCorruptFiles(t *testing.T) {
	t.Parallel()
	flips, cuts, timeout := 40, 12, time.Minute // a hang guard only
	if *campaign {
		flips, cuts, timeout = 400, 100, time.Minute
	}
	c := modeltest.TinyConfig(false)
	p := modeltest.Params(t, c, 5)
	work := t.TempDir()

	// The originals, and what their loaders return for them.
	hfDir := filepath.Join(work, "hf")
	if err := checkpoint.SaveHF(hfDir, p, safetensors.F16); err != nil {
		t.Fatal(err)
	}
	pthPath := filepath.Join(work, "m.pth")
	if err := checkpoint.SavePth(pthPath, p, "F16"); err != nil {
		t.Fatal(err)
	}
	resumePath := filepath.Join(work, "resume.safetensors")
	meta, err := json.Marshal(map[string]any{"config": c, "step": 100, "adam_step": 100, "epoch": 1, "world_size": 1,
		"loader": map[string]any{"offset": 12345}, "options": map[string]any{"LearningRate": 0.0005}})
	if err != nil {
		t.Fatal(err)
	}
	st := &checkpoint.ResumeFile{Meta: meta, Params: p.Data, M: make([]float32, len(p.Data)), V: make([]float32, len(p.Data))}
	if err := checkpoint.SaveResume(resumePath, st); err != nil {
		t.Fatal(err)
	}
	read := func(path string) []byte {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cfgJSON := read(filepath.Join(hfDir, checkpoint.ConfigFile))
	writeConfig := func(b []byte) func(string) error {
		return func(dir string) error { return os.WriteFile(filepath.Join(dir, checkpoint.ConfigFile), b, 0o644) }
	}
	kinds := []kind{
		{"HF model.safetensors", true,
			func(dir string) string { return filepath.Join(dir, checkpoint.SafetensorsFile) },
			func(dir string) (any, error) { return checkpoint.LoadHF(dir) }},
		{".pth (torch zip)", false,
			func(dir string) string { return filepath.Join(dir, "m.pth") },
			func(dir string) (any, error) { return checkpoint.Load(filepath.Join(dir, "m.pth"), c) }},
		{"resume safetensors", true,
			func(dir string) string { return filepath.Join(dir, "resume.safetensors") },
			func(dir string) (any, error) { return checkpoint.LoadResume(filepath.Join(dir, "resume.safetensors")) }},
	}
	originals := [][]byte{read(filepath.Join(hfDir, checkpoint.SafetensorsFile)), read(pthPath), read(resumePath)}

	rng := rand.New(rand.NewPCG(14, 14))
	randomBytes := make([]byte, 4096)
	for i := range randomBytes {
		randomBytes[i] = byte(rng.Uint32())
	}
	var tl tally
	for i, k := range kinds {
		orig := originals[i]
		dir := filepath.Join(work, fmt.Sprintf("k%d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		setup := writeConfig(cfgJSON)
		want, err := (func() (any, error) {
			if err := os.WriteFile(k.path(dir), orig, 0o644); err != nil {
				return nil, err
			}
			if err := setup(dir); err != nil {
				return nil, err
			}
			return k.load(dir)
		})()
		if err != nil {
			t.Fatalf("%s: original does not load: %v", k.name, err)
		}
		var vs []variant
		add := func(class string, data []byte, wantErr bool, s func(string) error) {
			if s == nil {
				s = setup
			}
			vs = append(vs, variant{class: class, data: data, setup: s, wantError: wantErr})
		}
		addWhat := func(what string) { vs[len(vs)-1].what = what }
		// Truncations: the first bytes, evenly spaced cuts and the last bytes.
		lens := []int{1, 7, 8, 9, 16}
		for j := 1; j <= cuts; j++ {
			lens = append(lens, j*len(orig)/(cuts+1))
		}
		for j := 1; j <= 8; j++ {
			lens = append(lens, len(orig)-j)
		}
		for _, n := range lens {
			add("truncated", orig[:n], true, nil)
		}
		for range flips {
			bit := rng.IntN(8 * len(orig))
			b := bytes.Clone(orig)
			b[bit/8] ^= 1 << (bit % 8)
			add("bit flip", b, false, nil)
			addWhat(fmt.Sprintf("byte %d bit %d", bit/8, bit%8))
		}
		add("zero-length", nil, true, nil)
		add("wrong type: random bytes", randomBytes, true, nil)
		add("wrong type: JSON", cfgJSON, true, nil)
		for j, other := range originals {
			if j != i {
				add("wrong type: "+kinds[j].name, other, true, nil)
			}
		}
		switch i {
		case 0: // HF: absurd and broken config.json next to a valid model file
			for _, set := range absurdConfigs() {
				b, err := editJSON(cfgJSON, set)
				if err != nil {
					t.Fatal(err)
				}
				add("absurd config.json", orig, true, writeConfig(b))
				addWhat(fmt.Sprint(set))
			}
			add("config.json not JSON", orig, true, writeConfig([]byte("{\"hidden_size\": 3")))
			add("config.json empty", orig, true, writeConfig(nil))
		case 1: // .pth: hostile pickles
			for _, h := range hostilePickles(t, filepath.Join(work, "pwned")) {
				add("hostile pickle: "+h.name, h.data, true, nil)
			}
		}
		for _, v := range vs {
			if v.class == "bit flip" || v.class == "truncated" {
				v.wantError = k.checksummed || v.class == "truncated"
			}
			o, msg := runOne(k, v, dir, want, timeout)
			tl.add(k.name+" / "+v.class, o)
			tl.maxErr = max(tl.maxErr, len(msg))
			if o == loadedSame {
				tl.notes = append(tl.notes, k.name+" "+v.what)
			}
			fail := o == panicked || o == hung || o == loadedChanged
			if fail {
				t.Errorf("%s / %s %s: %s %.200s", k.name, v.class, v.what, outcomeNames[o], msg)
			}
			if o == hung {
				t.Fatalf("stopping after a hang (its goroutine still runs)")
			}
		}
	}
	if _, err := os.Stat(filepath.Join(work, "pwned")); err == nil {
		t.Errorf("a hostile pickle executed code")
	}
	if tl.maxErr > 2000 {
		t.Errorf("longest error message: %d bytes", tl.maxErr)
	}
	t.Logf("corrupt-file campaign (longest error %d bytes):\n%s", tl.maxErr, tl.table())
	if testing.Verbose() && len(tl.notes) > 0 {
		t.Logf("changed files that loaded unchanged (regions no reader checks):\n%s", strings.Join(tl.notes, "\n"))
	}
}

// absurdConfigs are config.json edits that must be refused before any
// allocation they would size.
func absurdConfigs() []map[string]any {
	var out []map[string]any
	for _, k := range []string{"hidden_size", "vocab_size", "intermediate_size", "num_hidden_layers", "max_position_embeddings"} {
		for _, v := range []int64{1 << 20, 1 << 31, 1 << 40, 1 << 62, -1} {
			if k == "max_position_embeddings" && v == 1<<20 {
				v = 1 << 30 // 2^20 positions is a real context length, and loads
			}
			out = append(out, map[string]any{k: v})
		}
	}
	out = append(out,
		map[string]any{"use_moe": true, "n_routed_experts": int64(1) << 40},
		map[string]any{"use_moe": true, "n_routed_experts": 1000},
		map[string]any{"num_attention_heads": 0},
		map[string]any{"num_key_value_heads": int64(1) << 40},
		map[string]any{"rope_theta": "x"},
	)
	return out
}

func editJSON(b []byte, set map[string]any) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range set {
		m[k] = v
	}
	return json.Marshal(m)
}

type hostile struct {
	name string
	data []byte
}

// hostilePickles returns torch zip archives whose data.pkl is hostile: memo
// bombs, deep nesting, huge memo indexes, and globals that would run code
// (creating sentinel) if anything ever called them.
func hostilePickles(tb testing.TB, sentinel string) []hostile {
	tb.Helper()
	bomb := func(depth int) string {
		s := ")r\x00\x00\x00\x00"
		for i := 1; i <= depth; i++ {
			g := fmt.Sprintf("j%c%c\x00\x00", byte(i-1), byte((i-1)>>8))
			s += "0" + g + g + "\x86" + fmt.Sprintf("r%c%c\x00\x00", byte(i), byte(i>>8))
		}
		return s
	}
	// A state dict {"w": _rebuild_tensor_v2(storage, OFFSET, (6,), (1,), False, OrderedDict())}.
	dict := func(offset string) string {
		return "\x80\x02}(X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x06tQ" +
			offset + "K\x06\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtRu."
	}
	cmd := "touch " + sentinel
	str := func(s string) string { return fmt.Sprintf("X%c%c%c%c%s", byte(len(s)), byte(len(s)>>8), 0, 0, s) }
	pickles := []struct{ name, pkl string }{
		{"tuple bomb depth 24", dict(bomb(24))},
		{"tuple bomb depth 40", dict(bomb(40))},
		{"tuple bomb depth 18 as offset", dict(bomb(18))},
		{"nesting 100000", "\x80\x02" + ")" + strings.Repeat("\x85", 100000) + "."},
		{"marks 1000000", "\x80\x02" + strings.Repeat("(", 1000000) + "."},
		{"memo get 2^32-1", "\x80\x02j\xff\xff\xff\xff."},
		{"memo put 2^32-1 then dict", "\x80\x02}r\xff\xff\xff\xff."},
		{"GLOBAL os.system", "\x80\x02cos\nsystem\n" + str(cmd) + "\x85R."},
		{"GLOBAL posix.system in a dict", "\x80\x02}(X\x01\x00\x00\x00wcposix\nsystem\n" + str(cmd) + "\x85Ru."},
		{"STACK_GLOBAL builtins.exec", "\x80\x04" + str("builtins") + str("exec") + "\x93" + str("open('"+sentinel+"','w')") + "\x85R."},
		{"GLOBAL subprocess.call via torch name", "\x80\x02ctorch\nsubprocess.call\n" + str(cmd) + "\x85R."},
		{"not a dict", "\x80\x02K\x01."},
		{"long string key", "\x80\x02}(X\x00\x00\x10\x00" + strings.Repeat("k", 1<<20) + "K\x01u."},
	}
	var out []hostile
	for _, p := range pickles {
		out = append(out, hostile{p.name, torchZip(tb, p.pkl, 24)})
	}
	// A compressed storage record claiming far more than it holds.
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "m/data.pkl", Method: zip.Store})
	w.Write([]byte(dict("K\x00")))
	w, _ = zw.CreateHeader(&zip.FileHeader{Name: "m/data/0", Method: zip.Deflate})
	w.Write(make([]byte, 64<<20))
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	out = append(out, hostile{"zip bomb storage", b.Bytes()})
	return out
}

// torchZip wraps a data.pkl and one storage "0" of n bytes in a torch zip.
func torchZip(tb testing.TB, pkl string, n int) []byte {
	tb.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, r := range []struct{ name, data string }{{"m/data.pkl", pkl}, {"m/data/0", strings.Repeat("\x00", n)}, {"m/version", "3\n"}} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: r.name, Method: zip.Store})
		if err != nil {
			tb.Fatal(err)
		}
		w.Write([]byte(r.data))
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}
