package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/model"
	"github.com/spf13/pflag"
)

// wantUsage fails unless err is a usage error whose message holds every
// part (the flag and the value it was given).
func wantUsage(t *testing.T, err error, parts ...string) {
	t.Helper()
	if !errors.Is(err, errUsage) {
		t.Fatalf("err = %v, want a usage error", err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not mention %q", err, p)
		}
	}
}

func TestFlagCheckHelpers(t *testing.T) {
	wantUsage(t, positiveInt("batch_size", 0), "--batch_size 0", "positive")
	wantUsage(t, intAtLeast("context_len", 1, 2), "--context_len 1", "at least 2")
	wantUsage(t, intInRange("threads", -1, 0, 4096), "--threads -1")
	wantUsage(t, positiveFloat("learning_rate", -1), "--learning_rate -1")
	wantUsage(t, nonNegativeFloat("temperature", -0.5), "--temperature -0.5")
	for _, err := range []error{positiveInt("x", 1), intAtLeast("x", 2, 2), intInRange("x", 0, 0, 1), positiveFloat("x", 1e-9), nonNegativeFloat("x", 0)} {
		if err != nil {
			t.Fatalf("valid value rejected: %v", err)
		}
	}
	if err := firstError(nil, positiveInt("a", 0), positiveInt("b", 0)); err == nil || !strings.Contains(err.Error(), "--a 0") {
		t.Fatalf("firstError = %v, want the first failure", err)
	}
}

func TestSuggestFlag(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	for _, n := range []string{"data_path", "hidden_size", "batch_size", "out_dir", "seed"} {
		fs.String(n, "", "")
	}
	for in, want := range map[string]string{
		"data-path":   "data_path",
		"Data_Path":   "data_path",
		"hiden_size":  "hidden_size",
		"batchsize":   "batch_size",
		"out-dir":     "out_dir",
		"sed":         "seed",
		"temperature": "",
		"xyz":         "",
	} {
		if got := suggestFlag(fs, in); got != want {
			t.Errorf("suggestFlag(%q) = %q, want %q", in, got, want)
		}
	}
	if d := levenshtein("kitten", "sitting"); d != 3 {
		t.Fatalf("levenshtein = %d, want 3", d)
	}
}

func TestParseMemAvailable(t *testing.T) {
	n, ok := parseMemAvailable(strings.NewReader("MemTotal:       32768000 kB\nMemFree:  100 kB\nMemAvailable:   16384000 kB\n"))
	if !ok || n != 16384000*1024 {
		t.Fatalf("got %d %v, want %d", n, ok, 16384000*1024)
	}
	if _, ok := parseMemAvailable(strings.NewReader("MemTotal: 1 kB\n")); ok {
		t.Fatal("no MemAvailable line must be unknown")
	}
	if _, ok := parseMemAvailable(strings.NewReader("MemAvailable: lots kB\n")); ok {
		t.Fatal("an unparsable MemAvailable must be unknown")
	}
}

func TestEngineSizeChecks(t *testing.T) {
	c := model.DefaultConfig()
	// KV: 2 (K,V) × 8 layers × 1 seq × 2048 positions × 2 kv heads × 64 × 4 bytes.
	kv := 2.0 * 8 * 2048 * 2 * 64 * 4
	act := 256.0 * (6*512 + 2*128 + 3*1536 + 6400) * 4
	if got := engineBytes(c, 2048, 1); got != kv+act {
		t.Fatalf("engineBytes = %v, want %v", got, kv+act)
	}
	if err := checkEngineSize(c, 2048, 1, 1<<30, true); err != nil {
		t.Fatalf("fits in 1 GiB: %v", err)
	}
	wantUsage(t, checkEngineSize(c, 100000, 1, 1<<40, true), "--context_len 100000", "32768")
	err := checkEngineSize(c, 32768, 4096, 1<<30, true)
	wantUsage(t, err, "--context_len 32768", "4096 sequence", "1073741824 bytes", "available")
	if err := checkEngineSize(c, 32768, 4096, 0, false); err != nil {
		t.Fatalf("unknown available memory must skip the check: %v", err)
	}
}

func TestModelFlagsFFNFollowsHidden(t *testing.T) {
	parse := func(args ...string) model.Config {
		t.Helper()
		var mf ModelFlags
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		mf.AddFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		c, err := mf.Config()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := parse(); c.IntermediateSize != 1536 {
		t.Fatalf("default FFN %d, want 1536 (3·512)", c.IntermediateSize)
	}
	if c := parse("--hidden_size", "256"); c.IntermediateSize != 768 {
		t.Fatalf("hidden 256: FFN %d, want 768", c.IntermediateSize)
	}
	if c := parse("--hidden_size", "512", "--intermediate_size", "1408"); c.IntermediateSize != 1408 {
		t.Fatalf("explicit FFN %d, want 1408", c.IntermediateSize)
	}
	c := parse("--hidden_size", "256")
	if d := describeModel(&c); !strings.Contains(d, "FFN 768") {
		t.Fatalf("run header %q does not show the FFN size", d)
	}
	var mf ModelFlags
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	mf.AddFlags(fs)
	if err := fs.Parse([]string{"--num_hidden_layers", "-2"}); err != nil {
		t.Fatal(err)
	}
	_, err := mf.Config()
	wantUsage(t, err, "--num_hidden_layers -2")
}

// runRoot runs the whole command line as main does, without exiting.
func runRoot(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root, g := newRootCommand()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	g.stopProfile()
	return out.String(), err
}

func TestArchitectureFlagsOnlyWhereTheyMatter(t *testing.T) {
	root, _ := newRootCommand()
	arch := []string{"hidden_size", "num_hidden_layers", "num_key_value_heads", "intermediate_size", "vocab_size", "max_position_embeddings", "use_moe"}
	for _, path := range [][]string{{"generate"}, {"chat"}, {"serve"}, {"eval"}} {
		c, _, err := root.Find(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range arch {
			if c.Flags().Lookup(f) != nil {
				t.Errorf("%s still has --%s, which the model file decides", c.Name(), f)
			}
		}
	}
	for _, path := range [][]string{{"init"}, {"pretrain"}, {"sft"}, {"train"}, {"bench", "train"}, {"bench", "generate"}} {
		c, _, err := root.Find(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range arch {
			if c.Flags().Lookup(f) == nil {
				t.Errorf("%s lost --%s", c.CommandPath(), f)
			}
		}
	}
	_, err := runRoot(t, "generate", "--model", "x", "--prompt", "hi", "--hidden_size", "999")
	wantUsage(t, err, "unknown flag: --hidden_size")
}

func TestCommandLineErrors(t *testing.T) {
	cases := []struct {
		args  []string
		parts []string
	}{
		{[]string{"foo"}, []string{`unknown command "foo"`}},
		{[]string{"pretrian"}, []string{"did you mean pretrain?"}},
		{[]string{"data", "foo"}, []string{`unknown command "foo" for "minimind data"`}},
		{[]string{"bench", "tran"}, []string{"did you mean train?"}},
		{[]string{"pretrain", "--data-path", "x"}, []string{"unknown flag: --data-path", "did you mean --data_path?"}},
		{[]string{"generate", "--max-new-tokens", "3"}, []string{"did you mean --max_new_tokens?"}},
		{[]string{"--threads", "-1", "info", "--model", "x"}, []string{"--threads -1"}},
	}
	for _, c := range cases {
		_, err := runRoot(t, c.args...)
		wantUsage(t, err, c.parts...)
		if code := exitCode(err); code != exitUsage {
			t.Fatalf("%v: exit %d, want %d", c.args, code, exitUsage)
		}
	}
	// No arguments still shows the help, successfully.
	out, err := runRoot(t)
	if err != nil || !strings.Contains(out, "Available Commands") {
		t.Fatalf("bare minimind: %v\n%s", err, out)
	}
}

func TestDataPathHelpLine(t *testing.T) {
	out, err := runRoot(t, "pretrain", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "--data_path ") && strings.Contains(l, "training data") {
			if !strings.Contains(l, "--data_path strings") {
				t.Fatalf("garbled help line: %q", l)
			}
			return
		}
	}
	t.Fatalf("no --data_path line in:\n%s", out)
}

func TestSamplingFlagErrors(t *testing.T) {
	ok := SamplingFlags{MaxNewTokens: 8, Temperature: 0.85, TopP: 0.85, TopK: 50, RepetitionPenalty: 1}
	if _, err := ok.options(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		edit func(*SamplingFlags)
		want string
	}{
		{func(s *SamplingFlags) { s.RepetitionPenalty = 0 }, "--repetition_penalty 0"},
		{func(s *SamplingFlags) { s.MaxNewTokens = 0 }, "--max_new_tokens 0"},
		{func(s *SamplingFlags) { s.TopP = 3 }, "--top_p 3"},
		{func(s *SamplingFlags) { s.TopK = -1 }, "--top_k -1"},
		{func(s *SamplingFlags) { s.Temperature = -1 }, "--temperature -1"},
	} {
		s := ok
		c.edit(&s)
		_, err := s.options()
		wantUsage(t, err, c.want)
	}
}

func TestInferenceSizeErrors(t *testing.T) {
	dir := tinyModelDir(t) // max_position_embeddings 512
	g := &globalOptions{threads: 1, quiet: true}
	sampling := SamplingFlags{MaxNewTokens: 4, TopP: 1, RepetitionPenalty: 1}
	gen := func(ctxLen int) error {
		opts := GenerateOptions{Sampling: sampling, Prompts: []string{"x"}}
		opts.Inference.Model, opts.Inference.ContextLen = dir, ctxLen
		return runGenerate(context.Background(), opts, g, &bytes.Buffer{}, &bytes.Buffer{})
	}
	wantUsage(t, gen(100000), "--context_len 100000", "max_position_embeddings 512")
	wantUsage(t, gen(1), "--context_len 1")
	// Not given: 2048, capped by the model's 512 positions rather than an error.
	if err := gen(0); err != nil {
		t.Fatalf("default --context_len on a 512-position model: %v", err)
	}
	if err := gen(512); err != nil {
		t.Fatalf("--context_len 512 = max_position_embeddings: %v", err)
	}
	serve := func(edit func(*ServeOptions)) error {
		opts := ServeOptions{Port: 0, Slots: 1, Queue: 1, Host: "127.0.0.1"}
		opts.Inference.Model, opts.Inference.ContextLen = dir, 64
		edit(&opts)
		return runServe(context.Background(), opts, g, &bytes.Buffer{})
	}
	wantUsage(t, serve(func(o *ServeOptions) { o.Slots = 0 }), "--slots 0")
	wantUsage(t, serve(func(o *ServeOptions) { o.Queue = 1 << 40 }), "--queue 1099511627776")
	wantUsage(t, serve(func(o *ServeOptions) { o.Port = 70000 }), "--port 70000")
	wantUsage(t, serve(func(o *ServeOptions) { o.MaxBodyBytes = -1 }), "--max_body_bytes -1")
	wantUsage(t, serve(func(o *ServeOptions) { o.Inference.ContextLen = 4096 }), "--context_len 4096")
	// Too many slots for any machine: refused by the estimate, not by an
	// out-of-memory crash (skipped where MemAvailable is unknown).
	if _, known := memAvailable(); known {
		wantUsage(t, serve(func(o *ServeOptions) { o.Slots, o.Inference.ContextLen = 1<<30, 512 }), "bytes", "available")
	}
	wantUsage(t, serve(func(o *ServeOptions) { o.Inference.Heads = 3 }), "--num_attention_heads 3")
}

func TestInferenceRopeScalingApplies(t *testing.T) {
	dir := tinyModelDir(t)
	g := &globalOptions{threads: 1, quiet: true}
	for _, on := range []bool{false, true} {
		f := InferenceFlags{Model: dir, RopeScaling: on}
		m, _, closeFn, err := f.load(g)
		if err != nil {
			t.Fatal(err)
		}
		closeFn()
		if got := m.Config.Scaling() != nil; got != on {
			t.Fatalf("--inference_rope_scaling=%v: YaRN on = %v", on, got)
		}
	}
}

func TestModelFolderOfPthListsThem(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"pretrain_512.pth", "full_sft_512.pth"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := loadModelParams(dir, 0)
	wantUsage(t, err, "--model "+dir, "pretrain_512.pth", "full_sft_512.pth")
	// A folder with neither is left to the loader's own error.
	if _, err := loadModelParams(t.TempDir(), 0); err == nil || errors.Is(err, errUsage) {
		t.Fatalf("empty folder: %v", err)
	}
}

func TestBenchFlagErrors(t *testing.T) {
	g := &globalOptions{threads: 1, quiet: true}
	wantUsage(t, runBenchTrain(context.Background(), BenchOptions{BatchSize: 0, SeqLen: 8, Steps: 1}, g, &bytes.Buffer{}), "--batch_size 0")
	wantUsage(t, runBenchGenerate(context.Background(), BenchOptions{BatchSize: 1, PromptLen: 8, NewTokens: 8, Steps: -2}, g, &bytes.Buffer{}), "--steps -2")
}
