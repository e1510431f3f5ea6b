package tensorboard

import (
	"fmt"
	"strings"
)

// WandbSyncCommand is the shell command that uploads the event files in dir
// to Weights & Biases as a run of project ("" leaves the project to wandb's
// own default): `wandb sync --sync-tensorboard [--project P] DIR`.
func WandbSyncCommand(dir, project string) string {
	cmd := "wandb sync --sync-tensorboard"
	if project != "" {
		cmd += " --project " + shellQuote(project)
	}
	return cmd + " " + shellQuote(dir)
}

// WandbNotes are the lines `--use_wandb` prints at the start of a run whose
// event files go to dir: where they are and the command that uploads them
// later, and, when getenv("WANDB_API_KEY") is set, that online logging is
// not built in. reachable, when not nil, says whether the W&B service can be
// reached from here and refines that line; nil skips the check (tests pass
// nil, and so may the CLI: the note holds either way).
func WandbNotes(dir, project string, getenv func(string) string, reachable func() bool) []string {
	lines := []string{
		fmt.Sprintf("wandb: logging offline to TensorBoard event files in %s; upload the run with:", dir),
		"  " + WandbSyncCommand(dir, project),
	}
	if getenv == nil || getenv("WANDB_API_KEY") == "" {
		return lines
	}
	switch {
	case reachable == nil:
		lines = append(lines, "wandb: WANDB_API_KEY is set, but online logging to W&B is not built in; run the command above when training ends")
	case reachable():
		lines = append(lines, "wandb: WANDB_API_KEY is set and W&B is reachable, but online logging to W&B is not built in; run the command above when training ends")
	default:
		lines = append(lines, "wandb: WANDB_API_KEY is set, but W&B is not reachable from here and online logging is not built in; run the command above on a machine that reaches W&B")
	}
	return lines
}

// shellQuote quotes s for a POSIX shell when it holds anything but
// characters that never need quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=+@,%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
