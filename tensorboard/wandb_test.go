package tensorboard

import (
	"reflect"
	"strings"
	"testing"
)

func TestWandbNotes(t *testing.T) {
	t.Parallel()
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	const (
		where = "wandb: logging offline to TensorBoard event files in out/runs/pretrain-20261203-143000; upload the run with:"
		sync  = "  wandb sync --sync-tensorboard --project MiniMind-Pretrain out/runs/pretrain-20261203-143000"
	)
	yes, no := func() bool { return true }, func() bool { return false }
	for _, tc := range []struct {
		name      string
		env       map[string]string
		reachable func() bool
		want      []string
	}{
		{"no key", nil, nil, []string{where, sync}},
		{"no key, check not run", nil, func() bool { panic("checked without a key") }, []string{where, sync}},
		{"key, no check", map[string]string{"WANDB_API_KEY": "k"}, nil, []string{where, sync,
			"wandb: WANDB_API_KEY is set, but online logging to W&B is not built in; run the command above when training ends"}},
		{"key, reachable", map[string]string{"WANDB_API_KEY": "k"}, yes, []string{where, sync,
			"wandb: WANDB_API_KEY is set and W&B is reachable, but online logging to W&B is not built in; run the command above when training ends"}},
		{"key, unreachable", map[string]string{"WANDB_API_KEY": "k"}, no, []string{where, sync,
			"wandb: WANDB_API_KEY is set, but W&B is not reachable from here and online logging is not built in; run the command above on a machine that reaches W&B"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := WandbNotes("out/runs/pretrain-20261203-143000", "MiniMind-Pretrain", env(tc.env), tc.reachable)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("(-want +got)\n- %s\n+ %s", strings.Join(tc.want, "\n- "), strings.Join(got, "\n+ "))
			}
		})
	}
}

func TestWandbSyncCommand(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ dir, project, want string }{
		{"out/runs/sft-20261203-143000", "", "wandb sync --sync-tensorboard out/runs/sft-20261203-143000"},
		{"/tmp/my runs/sft", "Mini Mind", "wandb sync --sync-tensorboard --project 'Mini Mind' '/tmp/my runs/sft'"},
		{"it's", "p", `wandb sync --sync-tensorboard --project p 'it'\''s'`},
	} {
		if got := WandbSyncCommand(tc.dir, tc.project); got != tc.want {
			t.Errorf("WandbSyncCommand(%q, %q) = %q, want %q", tc.dir, tc.project, got, tc.want)
		}
	}
}
