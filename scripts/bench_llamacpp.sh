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
# llama.cpp runs through node-llama-cpp 3.21.1's prebuilt CPU library
# (scripts/llamacpp_bench.mjs), installed once with
#   NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm ci --omit=optional --prefix gguf/e2e
#
# Environment (all optional):
#   THREADS=2        kernel threads for both engines
#   PROMPT_LEN=512   prefill length (tokens)
#   NEW_TOKENS=128   decode steps timed after the prompt
#   STEPS=3          timed repetitions inside each run (after a warm-up); each
#                    run reports their median, the table the median of runs
#   MODEL=PATH       weights to use instead of a random default-size model
#   NLC_DIR=gguf/e2e the folder whose node_modules holds node-llama-cpp
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
	if [[ $llama_ok == 1 && -n ${gguf[$1]:-} ]] &&
		j=$(node scripts/llamacpp_bench.mjs --nlc "$nlc" --model "${gguf[$1]}" --threads "$threads" \
			--prompt_len "$plen" --new_tokens "$ntok" --steps "$steps" 2>"$work/err" | tail -n 1) && [[ $j == \{* ]]; then
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

node - "$out" "$threads" "$plen" "$ntok" "$rounds" <<'JS'
const fs = require("node:fs");
const [file, threads, plen, ntok, rounds] = process.argv.slice(2);
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
console.log(`batch-1 tokens/s, ${threads} threads, prompt ${plen}, ${ntok} decoded tokens; medians of ${rounds} interleaved rounds`);
console.log("| ours (llama.cpp) | decode ours | decode llama.cpp | ratio | prefill ours | prefill llama.cpp | ratio |");
console.log("|---|---:|---:|---:|---:|---:|---:|");
for (const [o, t] of [["f32", "f32"], ["f16", "f16"], ["bf16", "f16"], ["q8_0", "q8_0"]]) {
	const od = get("ours", o, "decode"), td = get("llama", t, "decode");
	const op = get("ours", o, "prefill"), tp = get("llama", t, "prefill");
	console.log(`| ${o} (${t.toUpperCase()}) | ${num(od)} | ${num(td)} | ${ratio(od, td)} | ${num(op)} | ${num(tp)} | ${ratio(op, tp)} |`);
}
JS
