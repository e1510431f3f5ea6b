package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/minimind-go/minimind/dashboard"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// DashboardOptions are the flags of `minimind dashboard`.
type DashboardOptions struct {
	OutDirs []string
	Addr    string
}

// AddFlags registers dashboard's flags.
func (o *DashboardOptions) AddFlags(f *pflag.FlagSet) {
	f.StringArrayVar(&o.OutDirs, "out_dir", nil, "a run's output directory (its metrics.jsonl, samples.jsonl); repeat to overlay runs")
	f.StringVar(&o.Addr, "addr", dashboard.DefaultAddr, "HOST:PORT to serve the page on (0.0.0.0:PORT exposes it to the network); requests must name HOST, localhost or a loopback IP")
}

func newDashboardCommand(_ *globalOptions) *cobra.Command {
	var opts DashboardOptions
	cmd := &cobra.Command{
		Use:   "dashboard --out_dir DIR [--out_dir DIR2 ...] [--addr 127.0.0.1:6006]",
		Short: "Serve a live page of training runs: loss, lr, grad norm, tokens/s, samples",
		Long: `Serve a page that plots a run's loss (raw, and smoothed like TensorBoard
with a slider), learning rate, gradient norm and tokens/s, per stage (a
pretrain and an sft run sharing an out_dir get separate curves), with the
latest samples the run generated. Other metrics a run writes get charts
of their own as they appear: DPO's rewards and eval loss, GRPO's and
PPO's reward, KL, clip fraction, completion length and so on. The page reads metrics.jsonl and
samples.jsonl from each --out_dir and updates every second, so it follows
a run that is still training as well as one that has finished. Several
--out_dir overlay their runs, each labelled by its directory name.

A last line still being written, or a garbage line, is skipped (the page
says so) rather than failing the whole file; a resumed run that rewrites
metrics.jsonl is read again from the top. The page is embedded: no CDN, it
works offline. It listens on loopback unless --addr says otherwise, and
answers only requests whose Host is localhost, a loopback IP or the HOST
of --addr (with 0.0.0.0: any IP, or this machine's name); others get 421,
so that a web site cannot read the run by pointing its own name at
127.0.0.1 (DNS rebinding). To open it under another name, give that name
in --addr.

Examples:
  minimind dashboard --out_dir ./out
  minimind dashboard --out_dir ./out/run-lr5e-4 --out_dir ./out/run-lr1e-3 --addr 127.0.0.1:8080

Exit status: 0 after Ctrl-C, 1 error (a directory that does not exist, the
port in use), 2 bad flags.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDashboard(cmd.Context(), opts, cmd.OutOrStdout())
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

func runDashboard(ctx context.Context, opts DashboardOptions, out io.Writer) error {
	if len(opts.OutDirs) == 0 {
		return fmt.Errorf("%w: --out_dir is required (a run's output directory; repeat it to overlay runs)", errUsage)
	}
	var notes []string
	for _, d := range opts.OutDirs {
		info, err := os.Stat(d)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("dashboard: --out_dir %s does not exist", d)
		}
		if err != nil {
			return fmt.Errorf("dashboard: --out_dir %w", err)
		}
		if !info.IsDir() {
			return fmt.Errorf("dashboard: --out_dir %s is not a directory", d)
		}
		if _, err := os.Stat(filepath.Join(d, dashboard.MetricsFile)); errors.Is(err, fs.ErrNotExist) {
			notes = append(notes, fmt.Sprintf("note: %s has no %s yet; the page waits for it", d, dashboard.MetricsFile))
		}
	}
	s, err := dashboard.New(opts.OutDirs, dashboard.Options{})
	if err != nil {
		return err
	}
	ln, note, err := dashboard.Listen(opts.Addr, "--addr")
	if errors.Is(err, dashboard.ErrBadAddr) {
		return fmt.Errorf("%w: --addr: %v", errUsage, err)
	}
	if err != nil {
		return err
	}
	if note != "" {
		notes = append(notes, note)
	}
	for _, n := range notes {
		fmt.Fprintln(out, n)
	}
	fmt.Fprintf(out, "dashboard of %d run(s) on %s; Ctrl-C stops\n", len(opts.OutDirs), dashboard.URL(ln))
	if err := dashboard.Serve(ctx, ln, s.Handler()); err != nil {
		return err
	}
	fmt.Fprintln(out, "dashboard stopped")
	return nil
}
