package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
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
	// OpenThinking opens a <think> block for each reply (the template's
	// open_thinking, enable_thinking for the 2510 template).
	OpenThinking bool
	// HideThinking leaves the thinking out of the transcript.
	HideThinking bool
}

// AddFlags registers chat's flags.
func (o *ChatOptions) AddFlags(f *pflag.FlagSet) {
	o.Inference.AddFlags(f)
	o.Sampling.AddFlags(f)
	f.StringVar(&o.System, "system", "", "system prompt (default: the chat template's)")
	f.BoolVar(&o.OpenThinking, "open_thinking", false, "let the model think first: the reply starts in an open <think> block (minimind-3 template)")
	f.BoolVar(&o.HideThinking, "hide_thinking", false, "do not show the model's thinking (the text between <think> and </think>)")
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

Commands: /reset starts a new conversation, /exit (or end of input, Ctrl-D)
quits. The model's thinking (between <think> and </think>) is shown
dimmed on a terminal, between [thinking] and [/thinking] otherwise, and
not at all with --hide_thinking. Ctrl-C stops a reply that is streaming (what was said so far stays
in the conversation); at the prompt it only reminds you how to quit.

Examples:
  minimind chat --model ./MiniMind2
  minimind chat --model ./MiniMind2 --dtype q8_0
  minimind chat --model ./out/full_sft_512.pth --system "You are a poet." --temperature 0

Exit status: 0 success, 1 error, 2 bad flags, 130 terminated (SIGTERM;
Ctrl-C never ends the chat).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Ctrl-C belongs to the chat, not to the whole program
			// (main's context still ends on SIGTERM).
			signal.Reset(os.Interrupt)
			intr := make(chan os.Signal, 1)
			signal.Notify(intr, os.Interrupt)
			defer signal.Stop(intr)
			return runChat(cmd.Context(), opts, g, cmd.InOrStdin(), cmd.OutOrStdout(), intr)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// runChat runs the chat loop on in and out until /exit or the end of in.
// A value on interrupts (nil: none) stops the reply being generated, or
// at the prompt prints how to quit.
func runChat(ctx context.Context, opts ChatOptions, g *globalOptions, in io.Reader, out io.Writer, interrupts <-chan os.Signal) error {
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
	tmpl, err := chat.ForTokenizer(tok)
	if err != nil {
		return err
	}
	// Room kept for the reply when trimming history: the reply budget, but
	// at most half the window.
	reserve := min(max(sopt.MaxNewTokens, 1), eng.Window()/2)
	var copt chat.Options
	if opts.OpenThinking {
		copt.EnableThinking = &opts.OpenThinking
		copt.Vars = map[string]any{"open_thinking": true}
	}
	var history []chat.Message
	fmt.Fprintln(out, "MiniMind chat. /reset starts over, /exit quits.")
	done := make(chan struct{})
	defer close(done)
	lines := readLines(in, done)
	for turn := 0; ; turn++ {
		l, err := nextLine(ctx, lines, interrupts, out)
		if err != nil {
			return err
		}
		if l.eof {
			fmt.Fprintln(out)
			return l.err
		}
		line := strings.TrimSpace(l.text)
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
			if prompt, err = generate.ChatPrompt(tmpl, tok, msgs, copt); err != nil {
				return err
			}
			if len(prompt)+reserve <= eng.Window() || len(history) == 1 {
				break
			}
			history = history[2:] // drop the oldest exchange
		}
		sopt.Seed = opts.Sampling.Seed + uint64(turn)
		start := time.Now()
		pr := &replyPrinter{out: out, split: generate.NewReplySplitter(tok.Decode(prompt), false), dim: colorTerminal(out), hide: opts.HideThinking}
		r, err := streamReply(ctx, eng, generate.Request{Prompt: prompt, Options: sopt}, out, pr, interrupts)
		if errors.Is(err, generate.ErrContextWindow) {
			fmt.Fprintf(out, "(message too long for the %d-token context; try /reset or a shorter message)\n", eng.Window())
			history = history[:len(history)-1]
			continue
		}
		if err != nil {
			return fmt.Errorf("chat: %w", err)
		}
		secs := time.Since(start).Seconds()
		fmt.Fprintf(out, "\n[%d tokens, %.1f tokens/s]\n", len(r.Tokens), float64(len(r.Tokens))/secs)
		history = append(history, chat.Message{Role: "assistant", Content: r.Text})
	}
}

// nextLine prints the prompt and waits for a line of input. Ctrl-C
// meanwhile only prints how to quit; the end of ctx ends the chat.
func nextLine(ctx context.Context, lines <-chan lineOrErr, interrupts <-chan os.Signal, out io.Writer) (lineOrErr, error) {
	fmt.Fprint(out, "\n> ")
	for {
		select {
		case <-ctx.Done():
			return lineOrErr{}, ctx.Err()
		case <-interrupts:
			fmt.Fprint(out, "\n(/exit or Ctrl-D quits)\n> ")
		case l := <-lines:
			return l, nil
		}
	}
}

// streamReply generates the reply to req, streaming its text to pr. Ctrl-C
// stops it: the reply so far is returned, as a finished one is, after
// "[interrupted]". The engine works on its own goroutine meanwhile (one
// turn at a time, so it still has one user), so this loop is the only
// reader of interrupts while a reply streams.
func streamReply(ctx context.Context, eng *generate.Engine, req generate.Request, out io.Writer, pr *replyPrinter, interrupts <-chan os.Signal) (generate.Result, error) {
	turnCtx, stop := context.WithCancel(ctx)
	defer stop()
	type outcome struct {
		res []generate.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := eng.Generate(turnCtx, []generate.Request{req}, func(_ int, ev generate.Event) { pr.write(ev.Text) })
		done <- outcome{res, err}
	}()
	for {
		select {
		case <-interrupts:
			stop()
		case o := <-done:
			pr.end()
			switch {
			case o.err == nil:
				return o.res[0], nil
			case errors.Is(o.err, context.Canceled) && ctx.Err() == nil && len(o.res) == 1: // Ctrl-C, not the program ending
				fmt.Fprint(out, "\n[interrupted]")
				return o.res[0], nil
			}
			return generate.Result{}, o.err
		}
	}
}

// replyPrinter writes a reply as it streams: the thinking set apart
// (dimmed on a terminal, between [thinking] markers otherwise, or hidden),
// then the answer. The tags themselves never show.
type replyPrinter struct {
	out       io.Writer
	split     *generate.ReplySplitter
	dim, hide bool
	thinking  bool // the thinking is being shown
}

// ANSI faint and reset.
const dimOn, dimOff = "\x1b[2m", "\x1b[0m"

func (p *replyPrinter) write(text string) { p.parts(p.split.Push(text)) }

// end prints what the splitter held back and closes the thinking if the
// reply stopped inside it.
func (p *replyPrinter) end() {
	p.parts(p.split.Flush())
	p.closeThinking()
}

func (p *replyPrinter) parts(parts []generate.Part) {
	for _, pt := range parts {
		switch pt.Kind {
		case generate.PartReasoning:
			if p.hide {
				continue
			}
			if !p.thinking {
				p.thinking = true
				if p.dim {
					io.WriteString(p.out, dimOn)
				} else {
					io.WriteString(p.out, "[thinking]\n")
				}
			}
			io.WriteString(p.out, pt.Text)
		case generate.PartContent:
			p.closeThinking()
			io.WriteString(p.out, pt.Text)
		}
	}
}

func (p *replyPrinter) closeThinking() {
	if !p.thinking {
		return
	}
	p.thinking = false
	if p.dim {
		io.WriteString(p.out, dimOff+"\n\n")
	} else {
		io.WriteString(p.out, "\n[/thinking]\n\n")
	}
}

// colorTerminal reports whether w is a terminal where the thinking can be
// dimmed; NO_COLOR (no-color.org) turns that off.
func colorTerminal(w io.Writer) bool {
	return os.Getenv("NO_COLOR") == "" && isTerminal(w)
}

// lineOrErr is one line of chat input, or its end.
type lineOrErr struct {
	text string
	eof  bool
	err  error // why input ended, nil at a clean end of input
}

// readLines reads in line by line on its own goroutine, so the chat can
// wait for a line and for Ctrl-C at once. After the end of input it sends
// one eof value and returns; it also returns once done is closed and it
// has a line no one will read.
func readLines(in io.Reader, done <-chan struct{}) <-chan lineOrErr {
	ch := make(chan lineOrErr)
	go func() {
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for {
			l := lineOrErr{eof: true}
			if sc.Scan() {
				l = lineOrErr{text: sc.Text()}
			} else {
				l.err = sc.Err()
			}
			select {
			case ch <- l:
			case <-done:
				return
			}
			if l.eof {
				return
			}
		}
	}()
	return ch
}
