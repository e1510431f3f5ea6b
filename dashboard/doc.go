// Package dashboard serves a live page of training runs: loss (raw and
// smoothed), learning rate, gradient norm and tokens/s curves, and the
// latest generated samples, read from each run's out_dir while it trains or
// after it finished. Several runs are overlaid, each labelled by its
// directory name; a pretrain and an SFT stage sharing one metrics.jsonl get
// separate curves. Every other numeric key of the metrics lines gets a
// chart of its own once it appears: DPO's rewards and eval_loss, GRPO's
// reward, kl, clipped and completion_len, PPO's reward, kl_ref, clipfrac,
// value_loss and so on. A value a line lacks, or one that is not finite,
// is a gap (null in the JSON), never a 0.
//
// Data: MetricsFile (metrics.jsonl, one train.Step per line, written by
// train.Recorder) and SamplesFile (samples.jsonl, one Sample per line,
// written by AppendSample). Both are read incrementally on each request of
// the page (it polls GET /api/runs every second; an ETag makes an unchanged
// poll a 304). A last line still being written is left for the next poll;
// a complete line that does not parse is skipped and counted, never an
// error for the whole file; a file that shrank or was replaced (a resumed
// run rewrites metrics.jsonl) is read again from the top.
//
// The page (web/, embedded) is plain JavaScript drawing on canvases: no
// CDN, no libraries, so it works offline.
//
// Serving: Listen binds first and explains a port in use, so a training
// command fails before it starts rather than after; it is loopback unless
// told otherwise and returns a note for any other address. Serve runs until
// its context ends and answers only requests whose Host header is
// localhost, a loopback address or the host it was bound to (any IP or the
// machine's name for 0.0.0.0); others get 421, so a web page cannot read
// the run through DNS rebinding. Start does all three in one call for a training
// command's --dashboard flag. Nothing here prints: notes and URLs are
// returned for the caller to show.
package dashboard
