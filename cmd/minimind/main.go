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
	"syscall"

	"github.com/minimind-go/minimind/train"
	"github.com/spf13/cobra"
)

// Exit statuses, documented in the root command's help.
const (
	exitOK          = 0
	exitError       = 1 // any failure not listed below
	exitUsage       = 2 // bad flags or arguments
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
  2    bad flags or arguments
  3    a NaN or infinite training loss or gradient (nothing saved), or a
       non-finite eval result
  130  interrupted (Ctrl-C); training saves a checkpoint first`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.PersistentFlags().IntVar(&g.threads, "threads", 0, "worker threads for the compute kernels (0 = all cores)")
	root.PersistentFlags().BoolVarP(&g.quiet, "quiet", "q", false, "no progress bars")
	root.PersistentFlags().StringVar(&g.cpuProfile, "cpuprofile", "", "write a Go CPU profile to this file (inspect with 'go tool pprof')")
	var profile *os.File
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
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
		return fmt.Errorf("%w: %v\nRun '%s --help' for usage", errUsage, err, c.CommandPath())
	})
	addCommands(root, g)
	return root, g
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	root, g := newRootCommand()
	err := root.ExecuteContext(ctx)
	g.stopProfile()
	stop()
	os.Exit(exitCode(err))
}

// exitCode maps an error to the documented exit status and prints it.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(os.Stderr, "minimind: interrupted")
		return exitInterrupted
	case errors.Is(err, errUsage):
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
