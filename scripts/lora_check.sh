#!/usr/bin/env bash
# LoRA learning check on real data (issue 16, item 6): from the quickstart's
# SFT model, LoRA on a small domain slice of ../shared/corpus/sft_mix (the
# Debian FAQ conversations) lowers the held-out part of that slice's eval
# loss, leaves the base file unchanged, and the merged model (convert
# --merge_lora --dtype f32) scores what the LoRA-applied model does.
# Usage: scripts/lora_check.sh [WORKDIR]   (a few minutes on 2 CPU cores)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
corpus=${CORPUS:-$root/../shared/corpus}
work=${1:-$(mktemp -d)}
mkdir -p "$work"
mm="$work/minimind"
(cd "$root" && go build -o "$mm" ./cmd/minimind)

base="$work/qs/full_sft_128.pth"
if [[ ! -f $base ]]; then
  "$mm" -q quickstart --out_dir "$work/qs" --hidden_size 128 --num_hidden_layers 2 >"$work/quickstart.log"
fi
zcat "$corpus/sft_mix.jsonl.gz" | grep -i debian >"$work/domain.jsonl"
head -n 160 "$work/domain.jsonl" >"$work/train.jsonl"
tail -n +161 "$work/domain.jsonl" >"$work/heldout.jsonl"
echo "slice: $(wc -l <"$work/train.jsonl") training, $(wc -l <"$work/heldout.jsonl") held-out conversations"

sum0=$(sha256sum "$base" | cut -d' ' -f1)
evalloss() { "$mm" -q eval --data "$work/heldout.jsonl" --max_seq_len 256 --json "$@" | python3 -c 'import json,sys; print(json.load(sys.stdin)["loss"])'; }
before=$(evalloss --model "$base")
"$mm" -q lora --data_path "$work/train.jsonl" --init "$base" --out_dir "$work/lora" --lora_name lora_debian \
  --lora_rank 16 --epochs 4 --batch_size 8 --max_seq_len 256 --learning_rate 1e-3 --log_interval 20 | tee "$work/lora.log"
adapter="$work/lora/lora_debian_128.pth"
after=$(evalloss --model "$base" --lora "$adapter")
"$mm" convert --model "$base" --merge_lora "$adapter" --dtype f32 --out "$work/merged_128.pth"
merged=$(evalloss --model "$work/merged_128.pth")
sum1=$(sha256sum "$base" | cut -d' ' -f1)
echo "held-out eval loss: base $before, LoRA $after, merged $merged"
python3 - "$before" "$after" "$merged" "$sum0" "$sum1" <<'PY'
import sys
before, after, merged = map(float, sys.argv[1:4])
ok = True
if not after < before:
    print(f"FAIL: LoRA did not lower the held-out loss ({before} -> {after})"); ok = False
if abs(merged - after) > 1e-4:
    print(f"FAIL: merged {merged} vs LoRA {after}: |diff| {abs(merged-after):.3g} > 1e-4"); ok = False
if sys.argv[4] != sys.argv[5]:
    print("FAIL: the base file changed"); ok = False
print(f"|merged - LoRA| = {abs(merged-after):.3g}; base sha256 unchanged: {sys.argv[4] == sys.argv[5]}")
sys.exit(0 if ok else 1)
PY
