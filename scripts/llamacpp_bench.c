// llamacpp_bench.c: llama.cpp's own prefill and batch-1 decode speed on a
// GGUF file, called straight through libllama's C API the way llama-bench's
// pp and tg tests call it, with no JS, sampler or tokenizer in the timed
// loop. scripts/bench_llamacpp.sh compiles it at run time against
// node-llama-cpp's bundled libllama (headers from the llama.cpp source bundle
// that node-llama-cpp ships), so the library is the same one
// scripts/llamacpp_bench.mjs drives.
//
//   llamacpp_bench --model F.gguf [--libdir DIR] [--threads 2]
//       [--prompt_len 512] [--new_tokens 128] [--steps 3] [--seed 2]
//       [--flash_attn auto|on|off] [--verbose]
//
// Each of --steps rounds (after one warm-up round) clears the KV cache,
// decodes a prompt of --prompt_len random ids in one batch (timed as
// prefill), then --new_tokens one-token batches, each fed the argmax of the
// previous logits (timed as decode). The argmax is a plain loop over the
// vocabulary, a few microseconds: llama-bench's tg test does no sampling at
// all (it feeds random ids), ours does this much so the token sequence is
// the greedy one, as in `minimind bench generate`. The random ids come from
// the same LCG as llamacpp_bench.mjs. As in llama-bench, the context gets a
// CPU threadpool of --threads threads (ggml_threadpool_new with its default
// polling), so no threads are created per decode call; flash attention is
// --flash_attn, by default auto (the library's, llama-bench's and
// node-llama-cpp 3.21.1's default, so both harnesses run the same graph).
//
// The last line printed is one JSON object (same fields as the .mjs).
// DIR is where the libggml-cpu-*.so variants live; ggml loads the best one
// for this CPU and logs which (kept on stderr).
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "llama.h"

static int verbose;

// Keep warnings and errors, and ggml's line naming the CPU backend variant
// it loaded; drop the rest of the (long) model-loading log unless --verbose.
static void log_cb(enum ggml_log_level level, const char *text, void *ud) {
	(void)ud;
	if (verbose || level == GGML_LOG_LEVEL_WARN || level == GGML_LOG_LEVEL_ERROR ||
	    strstr(text, "load_backend") || strstr(text, "CPU : ")) {
		fputs(text, stderr);
	}
}

static double now_s(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *xs, int n) {
	qsort(xs, (size_t)n, sizeof *xs, cmp_double);
	return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

static int pos_int(const char *name, const char *v) {
	char *end;
	long x = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || x <= 0 || x > 1000000) {
		fprintf(stderr, "llamacpp_bench: --%s must be a positive integer, got '%s'\n", name, v);
		exit(2);
	}
	return (int)x;
}

static uint64_t lcg;

// Same generator as llamacpp_bench.mjs: ids 16..6015, clear of the special
// tokens at the start of MiniMind's 6400-id vocabulary.
static llama_token next_id(void) {
	lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
	return (llama_token)(16 + (lcg >> 33) % 6000);
}

static llama_token argmax(const float *logits, int n) {
	int best = 0;
	for (int i = 1; i < n; i++) {
		if (logits[i] > logits[best]) best = i;
	}
	return (llama_token)best;
}

int main(int argc, char **argv) {
	const char *model_path = NULL, *libdir = NULL;
	int threads = 2, P = 512, N = 128, steps = 3;
	uint64_t seed = 2;
	enum llama_flash_attn_type fa = LLAMA_FLASH_ATTN_TYPE_AUTO;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--verbose") == 0) {
			verbose = 1;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "llamacpp_bench: %s needs a value (or is unknown)\n", a);
			return 2;
		}
		const char *v = argv[++i];
		if (strcmp(a, "--model") == 0) model_path = v;
		else if (strcmp(a, "--libdir") == 0) libdir = v;
		else if (strcmp(a, "--threads") == 0) threads = pos_int("threads", v);
		else if (strcmp(a, "--prompt_len") == 0) P = pos_int("prompt_len", v);
		else if (strcmp(a, "--new_tokens") == 0) N = pos_int("new_tokens", v);
		else if (strcmp(a, "--steps") == 0) steps = pos_int("steps", v);
		else if (strcmp(a, "--seed") == 0) seed = (uint64_t)strtoull(v, NULL, 10);
		else if (strcmp(a, "--flash_attn") == 0) {
			if (strcmp(v, "auto") == 0) fa = LLAMA_FLASH_ATTN_TYPE_AUTO;
			else if (strcmp(v, "on") == 0) fa = LLAMA_FLASH_ATTN_TYPE_ENABLED;
			else if (strcmp(v, "off") == 0) fa = LLAMA_FLASH_ATTN_TYPE_DISABLED;
			else {
				fprintf(stderr, "llamacpp_bench: --flash_attn must be auto, on or off, not '%s'\n", v);
				return 2;
			}
		}
		else {
			fprintf(stderr, "llamacpp_bench: unknown flag %s\n", a);
			return 2;
		}
	}
	if (!model_path) {
		fprintf(stderr, "llamacpp_bench: --model is required\n");
		return 2;
	}

	llama_log_set(log_cb, NULL);
	if (libdir) ggml_backend_load_all_from_path(libdir);
	else ggml_backend_load_all();
	llama_backend_init();

	ggml_backend_dev_t cpu_dev = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
	if (!cpu_dev) {
		fprintf(stderr, "llamacpp_bench: no CPU backend loaded (libdir %s)\n", libdir ? libdir : "(default)");
		return 1;
	}
	ggml_backend_reg_t cpu_reg = ggml_backend_dev_backend_reg(cpu_dev);
	fprintf(stderr, "llamacpp_bench: CPU backend %s (%s)\n", ggml_backend_reg_name(cpu_reg),
	        ggml_backend_dev_description(cpu_dev));
	typedef struct ggml_threadpool *(*tp_new_fn)(struct ggml_threadpool_params *);
	typedef void (*tp_free_fn)(struct ggml_threadpool *);
	tp_new_fn tp_new = (tp_new_fn)ggml_backend_reg_get_proc_address(cpu_reg, "ggml_threadpool_new");
	tp_free_fn tp_free = (tp_free_fn)ggml_backend_reg_get_proc_address(cpu_reg, "ggml_threadpool_free");

	struct llama_model_params mp = llama_model_default_params();
	mp.n_gpu_layers = 0;
	struct llama_model *model = llama_model_load_from_file(model_path, mp);
	if (!model) {
		fprintf(stderr, "llamacpp_bench: cannot load %s\n", model_path);
		return 1;
	}
	const struct llama_vocab *vocab = llama_model_get_vocab(model);
	const int n_vocab = llama_vocab_n_tokens(vocab);
	if (n_vocab < 6016) {
		fprintf(stderr, "llamacpp_bench: %s: vocabulary of %d ids, need at least 6016 for the random prompt\n",
		        model_path, n_vocab);
		return 1;
	}

	struct llama_context_params cp = llama_context_default_params();
	cp.n_ctx = (uint32_t)(P + N + 16);
	cp.n_batch = (uint32_t)P;
	cp.n_ubatch = (uint32_t)P;
	cp.n_seq_max = 1;
	cp.n_threads = threads;
	cp.n_threads_batch = threads;
	cp.no_perf = true;
	cp.flash_attn_type = fa;
	struct llama_context *ctx = llama_init_from_model(model, cp);
	if (!ctx) {
		fprintf(stderr, "llamacpp_bench: cannot create a context for %s\n", model_path);
		return 1;
	}
	struct ggml_threadpool *tp = NULL;
	if (tp_new && tp_free) {
		struct ggml_threadpool_params tpp = ggml_threadpool_params_default(threads);
		tp = tp_new(&tpp);
		if (!tp) {
			fprintf(stderr, "llamacpp_bench: threadpool of %d threads failed\n", threads);
			return 1;
		}
		llama_attach_threadpool(ctx, tp, NULL);
	} else {
		fprintf(stderr, "llamacpp_bench: CPU backend has no ggml_threadpool_new; threads made per call\n");
	}

	lcg = seed;
	llama_token *prompt = malloc((size_t)P * sizeof *prompt);
	double *pre = malloc((size_t)steps * sizeof *pre), *dec = malloc((size_t)steps * sizeof *dec);
	if (!prompt || !pre || !dec) {
		fprintf(stderr, "llamacpp_bench: out of memory\n");
		return 1;
	}
	for (int i = 0; i < P; i++) prompt[i] = next_id();
	const llama_token first = next_id();

	for (int r = 0; r <= steps; r++) {
		llama_memory_clear(llama_get_memory(ctx), true);
		double t0 = now_s();
		if (llama_decode(ctx, llama_batch_get_one(prompt, P)) != 0) {
			fprintf(stderr, "llamacpp_bench: prompt decode failed\n");
			return 1;
		}
		llama_synchronize(ctx);
		double t1 = now_s();
		// N one-token steps: `first`, then each greedy token in turn.
		llama_token tok = first;
		for (int n = 0; n < N; n++) {
			if (llama_decode(ctx, llama_batch_get_one(&tok, 1)) != 0) {
				fprintf(stderr, "llamacpp_bench: decode step %d failed\n", n);
				return 1;
			}
			tok = argmax(llama_get_logits_ith(ctx, -1), n_vocab);
		}
		double t2 = now_s();
		if (r > 0) {
			pre[r - 1] = P / (t1 - t0);
			dec[r - 1] = N / (t2 - t1);
		}
	}
	double mp_ = median(pre, steps), md = median(dec, steps);
	const char *base = strrchr(model_path, '/');
	fprintf(stderr, "llama.cpp %s: prefill %.1f tokens/s, decode %.1f tokens/s (%d threads)\n",
	        base ? base + 1 : model_path, mp_, md, threads);
	printf("{\"prefill_tokens_per_s\":%.3f,\"decode_tokens_per_s\":%.3f,\"threads\":%d,\"prompt_len\":%d,"
	       "\"new_tokens\":%d,\"engine\":\"llama.cpp v0.4.0 (node-llama-cpp 3.21.1's libllama, C harness)\"}\n",
	       mp_, md, threads, P, N);

	llama_free(ctx);
	if (tp) tp_free(tp);
	llama_model_free(model);
	llama_backend_free();
	free(prompt);
	free(pre);
	free(dec);
	return 0;
}
