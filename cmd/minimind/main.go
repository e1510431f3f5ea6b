// Command minimind trains, fine-tunes, evaluates, chats with and serves
// MiniMind language models. Run `minimind --help` for the subcommands.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/minimind-go/minimind/train"
	"github.com/spf13/cobra"
)

// Exit statuses, documented in the root command's help.
const (
	exitOK          = 0
	exitError       = 1 // any failure not listed below
	exitUsage       = 2 // bad flags or arguments (also flags a --resume state contradicts, and files named that do not fit: isUsage)
	exitNonFinite   = 3 // training met a NaN/Inf loss or gradient, or eval a non-finite result
	exitInterrupted = 130
)

// errUsage marks errors caused by how the command was invoked.
var errUsage = errors.New("usage")

// globalOptions are the flags every subcommand shares.
type globalOptions struct {
	threads    int    // worker threads for kernels (0 = GOMAXPROCS)
	quiet      bool   // no progress bars
	cpuProfile string // write a CPU profile here

	stopProfile func() // flushes the CPU profile; set by the root command
}

func newRootCommand() (*cobra.Command, *globalOptions) {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "minimind",
		Short: "Train, fine-tune, evaluate, chat with and serve MiniMind language models",
		Long: `minimind is one binary for the whole MiniMind workflow: tokenizers, pretraining,
supervised fine-tuning, evaluation, chat and an OpenAI-compatible server. It
reads and writes the checkpoints (HF config.json + model.safetensors, and
PyTorch .pth state dicts) and tokenizer files that the Python MiniMind uses.

Exit status:
  0    success
  1    an error (the message says what failed)
  2    bad flags or arguments, flags (or an mpirun -n) that contradict the
       --resume state, or weights that do not fit them (another
       architecture, too few positions for --max_seq_len, not enough memory)
  3    a NaN or infinite training loss or gradient (nothing saved), or a
       non-finite eval result
  130  interrupted (Ctrl-C); training saves a checkpoint first`,
		SilenceErrors: true,
		SilenceUsage:  true,
		// SuggestionsFor reads this field as is (0 would suggest nothing).
		SuggestionsMinimumDistance: 2,
	}
	root.PersistentFlags().IntVar(&g.threads, "threads", 0, "worker threads for the compute kernels (0 = all cores)")
	root.PersistentFlags().BoolVarP(&g.quiet, "quiet", "q", false, "no progress bars")
	root.PersistentFlags().StringVar(&g.cpuProfile, "cpuprofile", "", "write a Go CPU profile to this file (inspect with 'go tool pprof')")
	var profile *os.File
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		// The upper bound only stops values that would make the worker
		// pool itself exhaust memory.
		if err := intInRange("threads", g.threads, 0, maxThreads); err != nil {
			return err
		}
		if g.cpuProfile == "" {
			return nil
		}
		f, err := os.Create(g.cpuProfile)
		if err != nil {
			return err
		}
		profile = f
		return pprof.StartCPUProfile(f)
	}
	g.stopProfile = func() {
		if profile != nil {
			pprof.StopCPUProfile()
			profile.Close()
			profile = nil
		}
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		hint := ""
		if name, ok := unknownFlagName(err); ok {
			if s := suggestFlag(c.Flags(), name); s != "" {
				hint = fmt.Sprintf(" (did you mean --%s?)", s)
			}
		}
		return fmt.Errorf("%w: %v%s\nRun '%s --help' for usage", errUsage, err, hint, c.CommandPath())
	})
	// Without a RunE of its own, cobra reports an unknown subcommand as a
	// plain error (exit 1); this makes it a usage error (exit 2), with
	// cobra's "did you mean" suggestions.
	root.Args = cobra.ArbitraryArgs
	root.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return c.Help()
		}
		return unknownCommand(c, args[0])
	}
	addCommands(root, g)
	return root, g
}

// maxThreads bounds --threads.
const maxThreads = 4096

// unknownCommand is the usage error for `minimind NAME` where NAME is no
// subcommand, suggesting the closest ones.
func unknownCommand(c *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, c.CommandPath())
	if s := c.SuggestionsFor(name); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, " or "))
	}
	return fmt.Errorf("%w: %s\nRun '%s --help' for the commands", errUsage, msg, c.CommandPath())
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	root, g := newRootCommand()
	err := root.ExecuteContext(ctx)
	g.stopProfile()
	stop()
	os.Exit(exitCode(err))
}

// isUsage tells whether err is a usage error (exit status 2): errUsage, or
// one of train's errors that the flags or the files they name cause — a
// resume refused for a changed setup, schedule or world size, samples longer than the
// model, an architecture that contradicts the weights, a batch that does
// not fit in memory — whichever command met it (train, lora, dpo,
// distill, grpo, ppo, eval).
func isUsage(err error) bool {
	for _, target := range []error{errUsage, train.ErrChangedSetup, train.ErrChangedSchedule,
		train.ErrWorldSize, train.ErrMaxSeqLen, train.ErrArchitecture, train.ErrMemory} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// exitCode maps an error to the documented exit status and prints it.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(os.Stderr, "minimind: interrupted")
		return exitInterrupted
	case isUsage(err):
		fmt.Fprintln(os.Stderr, "minimind:", err)
		return exitUsage
	case errors.Is(err, train.ErrNonFinite):
		fmt.Fprintln(os.Stderr, "minimind:", err)
		return exitNonFinite
	default:
		fmt.Fprintln(os.Stderr, "minimind:", err)
		return exitError
	}
}
