package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/minimind-go/minimind/chat"
	"github.com/minimind-go/minimind/generate"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// ChatOptions are the flags of `minimind chat`.
type ChatOptions struct {
	Inference InferenceFlags
	Sampling  SamplingFlags
	System    string
}

// AddFlags registers chat's flags.
func (o *ChatOptions) AddFlags(f *pflag.FlagSet) {
	o.Inference.AddFlags(f)
	o.Sampling.AddFlags(f)
	f.StringVar(&o.System, "system", "", "system prompt (default: the chat template's)")
}

func newChatCommand(g *globalOptions) *cobra.Command {
	var opts ChatOptions
	cmd := &cobra.Command{
		Use:   "chat --model PATH [--system TEXT]",
		Short: "Chat with a model in the terminal",
		Long: `An interactive chat: type a message and the reply streams back, followed by
its token count and speed. The whole conversation is the prompt of each
reply; when it no longer fits --context_len (minus room for the reply), the
oldest turns are dropped (the system prompt stays).

Commands: /reset starts a new conversation, /exit (or end of input) quits.

Examples:
  minimind chat --model ./MiniMind2
  minimind chat --model ./out/full_sft_512.pth --system "You are a poet." --temperature 0

Exit status: 0 success, 1 error, 2 bad flags, 130 interrupted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runChat(cmd.Context(), opts, g, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

func runChat(ctx context.Context, opts ChatOptions, g *globalOptions, in io.Reader, out io.Writer) error {
	sopt, err := opts.Sampling.options()
	if err != nil {
		return err
	}
	eng, closeFn, err := opts.Inference.engine(g, 1)
	if err != nil {
		return err
	}
	defer closeFn()
	tok := eng.Tokenizer()
	tmpl, err := generate.ChatTemplate(tok)
	if err != nil {
		return err
	}
	// Room kept for the reply when trimming history: the reply budget, but
	// at most half the window.
	reserve := min(max(sopt.MaxNewTokens, 1), eng.Window()/2)
	var history []chat.Message
	fmt.Fprintln(out, "MiniMind chat. /reset starts over, /exit quits.")
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for turn := 0; ; turn++ {
		fmt.Fprint(out, "\n> ")
		if !sc.Scan() {
			fmt.Fprintln(out)
			return sc.Err()
		}
		line := strings.TrimSpace(sc.Text())
		switch line {
		case "":
			continue
		case "/exit", "/quit":
			return nil
		case "/reset":
			history = history[:0]
			fmt.Fprintln(out, "(new conversation)")
			continue
		}
		history = append(history, chat.Message{Role: "user", Content: line})
		var prompt []int32
		for {
			msgs := history
			if opts.System != "" {
				msgs = append([]chat.Message{{Role: "system", Content: opts.System}}, history...)
			}
			if prompt, err = generate.ChatPrompt(tmpl, tok, msgs, chat.Options{}); err != nil {
				return err
			}
			if len(prompt)+reserve <= eng.Window() || len(history) == 1 {
				break
			}
			history = history[2:] // drop the oldest exchange
		}
		sopt.Seed = opts.Sampling.Seed + uint64(turn)
		start := time.Now()
		res, err := eng.Generate(ctx, []generate.Request{{Prompt: prompt, Options: sopt}},
			func(_ int, ev generate.Event) { io.WriteString(out, ev.Text) })
		if errors.Is(err, generate.ErrContextWindow) {
			fmt.Fprintf(out, "(message too long for the %d-token context; try /reset or a shorter message)\n", eng.Window())
			history = history[:len(history)-1]
			continue
		}
		if err != nil {
			return fmt.Errorf("chat: %w", err)
		}
		r := res[0]
		secs := time.Since(start).Seconds()
		fmt.Fprintf(out, "\n[%d tokens, %.1f tokens/s]\n", len(r.Tokens), float64(len(r.Tokens))/secs)
		history = append(history, chat.Message{Role: "assistant", Content: r.Text})
	}
}
