package minimind_test

import (
	"go/build"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const module = "github.com/minimind-go/minimind"

// moduleDeps returns the module's packages that pkg (a path inside the
// module) imports, directly or not, without test files: what
// `go list -deps` lists, restricted to this module.
func moduleDeps(t *testing.T, root, pkg string) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	var walk func(p string)
	walk = func(p string) {
		if seen[p] {
			return
		}
		seen[p] = true
		dir := filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(strings.TrimPrefix(p, module), "/")))
		bp, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatalf("read package %s: %v", p, err)
		}
		for _, imp := range bp.Imports {
			if imp == module || strings.HasPrefix(imp, module+"/") {
				walk(imp)
			}
		}
	}
	walk(pkg)
	delete(seen, pkg)
	return seen
}

// TestDependenciesRunOneWay pins the package graph the root doc describes:
// the kernels never reach up to the model or its files, the model never
// reaches the checkpoint formats, and the leaf packages stay leaves.
func TestDependenciesRunOneWay(t *testing.T) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the module root")
	}
	root := filepath.Dir(file)
	rules := []struct {
		pkgs      []string
		forbidden []string // prefixes, relative to the module
	}{
		{[]string{"kernels", "kernels/cpu", "kernels/gemm", "kernels/ref", "kernels/parallel", "kernels/cuda", "kernels/kerneltest"},
			[]string{"model", "checkpoint", "data", "train", "generate", "server", "tokenizer", "chat"}},
		{[]string{"model"}, []string{"checkpoint", "data", "train", "generate", "server", "tokenizer", "chat"}},
		{[]string{"devmodel"}, []string{"checkpoint", "data", "train", "generate", "server", "tokenizer", "chat"}},                  // model's device twin
		{[]string{"half", "jsonl", "reward"}, []string{""}},                                                                         // leaves: nothing from the module
		{[]string{"quant"}, []string{"kernels", "model", "checkpoint", "data", "train", "generate", "server", "tokenizer", "chat"}}, // a format: half only
		{[]string{"tokenizer"}, []string{"chat", "data", "model", "train"}},
		{[]string{"gguf"}, []string{"checkpoint", "data", "train", "generate", "server", "chat", "cmd"}}, // a format plus the model mapping; checkpoint calls it
		{[]string{"train"}, []string{"tensorboard", "dashboard", "server"}},                              // generate is the RL rollout engine
		{[]string{"generate"}, []string{"train"}},
		{[]string{"checkpoint", "data", "train", "generate", "server", "tensorboard", "dashboard"}, []string{"cmd"}},
	}
	for _, r := range rules {
		for _, p := range r.pkgs {
			for dep := range moduleDeps(t, root, module+"/"+p) {
				rel := strings.TrimPrefix(strings.TrimPrefix(dep, module), "/")
				for _, f := range r.forbidden {
					if f == "" || rel == f || strings.HasPrefix(rel, f+"/") {
						t.Errorf("%s imports %s (directly or not); dependencies must run the other way", p, rel)
					}
				}
			}
		}
	}
}
