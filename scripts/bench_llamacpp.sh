#!/usr/bin/env bash
# bench_llamacpp.sh: MiniMind-Go's batch-1 decode and prompt prefill against
# llama.cpp's on the same weights, at the same thread count, interleaved
# (ours, llama.cpp, ours, ...) so that load from elsewhere hits both alike.
# Prints the median of each over the rounds and the ratios.
#
#   scripts/bench_llamacpp.sh [rounds]        (default 3)
#
# The model is the default-size MiniMind2 (hidden 512, 8 layers, vocab
# 6400), randomly initialised (`minimind init --seed 1`; speed does not
# depend on the values), or MODEL=an HF directory / .pth. It is exported
# with `minimind convert --to gguf --dtype f32|f16|q8_0`; ours runs
# `minimind bench generate --dtype f32|f16|bf16|q8_0` on the original
# weights. The pairs: ours f32 vs llama.cpp F32, ours f16 and bf16 vs its
# F16, ours q8_0 vs its Q8_0. A dtype that our build refuses, or a GGUF it
# cannot write, shows as n/a.
#
# llama.cpp is node-llama-cpp 3.21.1's prebuilt CPU library (llama.cpp
# release v0.4.0 as node-llama-cpp names it), installed once with
#   NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm ci --omit=optional --prefix gguf/e2e
# Two harnesses drive it:
#   ENGINE=c     (default when gcc and git are present) scripts/llamacpp_bench.c,
#                compiled here against that libllama with the headers of
#                the llama.cpp source bundle node-llama-cpp ships; it calls
#                llama_decode directly, as llama-bench's pp/tg tests do, so
#                it measures llama.cpp itself.
#   ENGINE=node  scripts/llamacpp_bench.mjs through node-llama-cpp's JS API
#                (sequence.evaluate): adds node-llama-cpp's per-token JS and
#                sampler cost to decode, i.e. what a node-llama-cpp user sees.
#
# Environment (all optional):
#   THREADS=2        kernel threads for both engines
#   PROMPT_LEN=512   prefill length (tokens)
#   NEW_TOKENS=128   decode steps timed after the prompt
#   STEPS=3          timed repetitions inside each run (after a warm-up); each
#                    run reports their median, the table the median of runs
#   MODEL=PATH       weights to use instead of a random default-size model
#   NLC_DIR=gguf/e2e the folder whose node_modules holds node-llama-cpp
#   ENGINE=c|node    the llama.cpp harness (see above)
#   CONVERT_BIN=...  a minimind binary used only for `convert --to gguf`
#   GGUF_DIR=DIR     use DIR/model-{f32,f16,q8_0}.gguf instead of exporting
#                    (they must hold the same weights as MODEL)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
threads=${THREADS:-2}
plen=${PROMPT_LEN:-512}
ntok=${NEW_TOKENS:-128}
steps=${STEPS:-3}
nlc=${NLC_DIR:-gguf/e2e}
engine=${ENGINE:-}
if [[ -z $engine ]]; then
	engine=node
	command -v gcc >/dev/null && command -v git >/dev/null && engine=c
fi
if [[ $engine != c && $engine != node ]]; then
	echo "bench_llamacpp: ENGINE must be c or node, not $engine" >&2
	exit 2
fi

if ! command -v node >/dev/null; then
	echo "bench_llamacpp: node is not installed (apt-get install nodejs)" >&2
	exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=$work/minimind
go build -o "$bin" ./cmd/minimind
conv=${CONVERT_BIN:-$bin}

model=${MODEL:-}
if [[ -z $model ]]; then
	model=$work/model
	"$bin" init --out "$model" --seed 1 >/dev/null
fi

llama_ok=1
if [[ ! -d $nlc/node_modules/node-llama-cpp ]]; then
	echo "bench_llamacpp: no node-llama-cpp under $nlc/node_modules; llama.cpp columns are n/a." >&2
	echo "  install: NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm ci --omit=optional --prefix gguf/e2e" >&2
	llama_ok=0
fi

# ENGINE=c: build the C harness against node-llama-cpp's libllama, with the
# headers of the exact llama.cpp source it was built from (the git bundle).
# The .so files carry versioned SONAMEs (libllama.v0.4.0.so), hence -l:.
if [[ $engine == c && $llama_ok == 1 ]]; then
	libdir=$(cd "$nlc" && pwd)/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
	bundle=$nlc/node_modules/node-llama-cpp/llama/gitRelease.bundle
	if [[ ! -f $libdir/libllama.v0.4.0.so || ! -f $bundle ]]; then
		echo "bench_llamacpp: ENGINE=c needs $libdir/libllama.v0.4.0.so and $bundle; llama.cpp columns are n/a." >&2
		llama_ok=0
	elif ! git clone -q "$bundle" "$work/llama.cpp" 2>"$work/err" ||
		! gcc -O2 -std=c11 -Wall -I"$work/llama.cpp/include" -I"$work/llama.cpp/ggml/include" \
			scripts/llamacpp_bench.c -o "$work/llamacpp_bench" -L"$libdir" -Wl,-rpath,"$libdir" \
			-l:libllama.v0.4.0.so -l:libggml.v0.4.0.so -lggml-base 2>>"$work/err"; then
		echo "bench_llamacpp: cannot build scripts/llamacpp_bench.c: $(tail -n 1 "$work/err"); llama.cpp columns are n/a." >&2
		llama_ok=0
	fi
fi

# One GGUF per llama.cpp precision (missing file: that column is n/a).
declare -A gguf
for d in f32 f16 q8_0; do
	f=$work/model-$d.gguf
	if [[ -n ${GGUF_DIR:-} ]]; then
		f=$GGUF_DIR/model-$d.gguf
	elif ! "$conv" convert --model "$model" --to gguf --dtype "$d" --out "$f" >"$work/convert-$d.log" 2>&1; then
		echo "bench_llamacpp: no $d GGUF: $(tail -n 1 "$work/convert-$d.log")" >&2
	fi
	[[ -f $f ]] && gguf[$d]=$f
done

# Each result is one line: side, precision, JSON (or "null" when refused).
out=$work/results.tsv
ours() { # precision
	local j
	if j=$("$bin" --threads "$threads" bench generate --model "$model" --dtype "$1" --batch_size 1 \
		--prompt_len "$plen" --new_tokens "$ntok" --steps "$steps" --json 2>"$work/err" | tail -n 1) && [[ $j == \{* ]]; then
		printf 'ours\t%s\t%s\n' "$1" "$j" >>"$out"
	else
		echo "bench_llamacpp: ours --dtype $1: $(tail -n 1 "$work/err")" >&2
		printf 'ours\t%s\tnull\n' "$1" >>"$out"
	fi
}
theirs() { # precision
	local j
	local cmd
	if [[ $engine == c ]]; then
		cmd=("$work/llamacpp_bench" --libdir "${libdir:-}")
	else
		cmd=(node scripts/llamacpp_bench.mjs --nlc "$nlc")
	fi
	if [[ $llama_ok == 1 && -n ${gguf[$1]:-} ]] &&
		j=$("${cmd[@]}" --model "${gguf[$1]}" --threads "$threads" \
			--prompt_len "$plen" --new_tokens "$ntok" --steps "$steps" 2>"$work/err" | tail -n 1) && [[ $j == \{* ]]; then
		# ggml names the CPU variant it loaded (libggml-cpu-*.so); say it once.
		if [[ $engine == c && -z ${variant_said:-} ]] && grep -q 'loaded CPU backend' "$work/err"; then
			echo "bench_llamacpp: $(grep -m1 'loaded CPU backend' "$work/err")" >&2
			variant_said=1
		fi
		printf 'llama\t%s\t%s\n' "$1" "$j" >>"$out"
	else
		[[ $llama_ok == 1 && -n ${gguf[$1]:-} ]] && echo "bench_llamacpp: llama.cpp $1: $(tail -n 1 "$work/err")" >&2
		printf 'llama\t%s\tnull\n' "$1" >>"$out"
	fi
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs" >&2
for ((r = 1; r <= rounds; r++)); do
	for p in "f32 f32" "f16 f16" "bf16 -" "q8_0 q8_0"; do
		read -r o t <<<"$p"
		echo "round $r/$rounds: ours $o${t:+, llama.cpp $t}" >&2
		ours "$o"
		[[ $t != - ]] && theirs "$t"
	done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

node - "$out" "$threads" "$plen" "$ntok" "$rounds" "$engine" <<'JS'
const fs = require("node:fs");
const [file, threads, plen, ntok, rounds, engine] = process.argv.slice(2);
const runs = {};
for (const line of fs.readFileSync(file, "utf8").split("\n").filter(Boolean)) {
	const [side, prec, json] = line.split("\t");
	const r = (runs[`${side}/${prec}`] ??= {decode: [], prefill: []});
	const j = JSON.parse(json);
	if (j) {
		r.decode.push(j.decode_tokens_per_s);
		r.prefill.push(j.prefill_tokens_per_s);
	}
}
const median = (xs) => {
	if (!xs || xs.length === 0) return null;
	const a = [...xs].sort((x, y) => x - y);
	return a.length % 2 ? a[(a.length - 1) / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
};
const get = (side, prec, key) => median(runs[`${side}/${prec}`]?.[key]);
const num = (v) => (v == null ? "n/a" : v.toFixed(1));
const ratio = (a, b) => (a == null || b == null ? "n/a" : (a / b).toFixed(2) + "×");
const how = engine === "c"
	? "llama.cpp timed by scripts/llamacpp_bench.c (llama_decode directly, as llama-bench)"
	: "llama.cpp timed through node-llama-cpp's JS API (scripts/llamacpp_bench.mjs; includes its per-token JS/sampler cost)";
console.log(`batch-1 tokens/s, ${threads} threads, prompt ${plen}, ${ntok} decoded tokens; medians of ${rounds} interleaved rounds; ${how}`);
console.log("| ours (llama.cpp) | decode ours | decode llama.cpp | ratio | prefill ours | prefill llama.cpp | ratio |");
console.log("|---|---:|---:|---:|---:|---:|---:|");
for (const [o, t] of [["f32", "f32"], ["f16", "f16"], ["bf16", "f16"], ["q8_0", "q8_0"]]) {
	const od = get("ours", o, "decode"), td = get("llama", t, "decode");
	const op = get("ours", o, "prefill"), tp = get("llama", t, "prefill");
	console.log(`| ${o} (${t.toUpperCase()}) | ${num(od)} | ${num(td)} | ${ratio(od, td)} | ${num(op)} | ${num(tp)} | ${ratio(op, tp)} |`);
}
JS
