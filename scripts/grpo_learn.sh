#!/usr/bin/env bash
# GRPO learning check (issue 17, item 6), in the chat format: one-digit
# additions ("3+4=" → "7", with "gt"), a short SFT of a tiny random model on
# that format, then `minimind grpo --reward gt` (+1 right, -1 wrong, plus
# upstream's rule terms, which cost these short replies 0.5) raises
# the mean reward on held-out prompts above the SFT model's. The held-out
# reward is measured by grpo itself at --learning_rate 0 (no update): the
# mean of its metrics.jsonl rewards, 6 samples per prompt at temperature 0.8.
# Usage: scripts/grpo_learn.sh [WORKDIR] [LOSS_TYPE]   (minutes on 2 cores)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d)}
loss=${2:-cispo}
mkdir -p "$work"
mm="$work/minimind"
(cd "$root" && go build -o "$mm" ./cmd/minimind)
arch=(--hidden_size 64 --num_hidden_layers 2 --num_attention_heads 4 --num_key_value_heads 2 --intermediate_size 192 --max_position_embeddings 64)

python3 - "$work" <<'PY'
import json, random, sys
w = sys.argv[1]
random.seed(0)
pairs = [(a, b) for a in range(10) for b in range(10)]
held = [p for p in pairs if (a := p[0] * 10 + p[1]) % 5 == 0]
train = [p for p in pairs if p not in held]
def conv(a, b, ans):
    return [{"role": "user", "content": f"{a}+{b}="}, {"role": "assistant", "content": ans}]
with open(f"{w}/sft.jsonl", "w") as f:
    for _ in range(8):
        for a, b in train:
            f.write(json.dumps({"conversations": conv(a, b, str(a + b))}) + "\n")
for name, ps in (("rl_train", train), ("rl_held", held)):
    with open(f"{w}/{name}.jsonl", "w") as f:
        for a, b in ps:
            f.write(json.dumps({"conversations": conv(a, b, ""), "gt": str(a + b)}) + "\n")
PY

"$mm" -q --threads 2 sft --data_path "$work/sft.jsonl" --out_dir "$work/sft" "${arch[@]}" --max_seq_len 32 \
  --epochs "${SFT_EPOCHS:-6}" --batch_size 16 --learning_rate 2e-3 --save_dtype f32 --log_interval 50 >"$work/sft.log"
sft="$work/sft/full_sft_64.pth"

heldout() { # mean reward of the model $1 on the held-out prompts
  rm -rf "$work/eval"
  "$mm" -q --threads 2 grpo --data_path "$work/rl_held.jsonl" --init "$1" --out_dir "$work/eval" "${arch[@]}" \
    --reward gt --learning_rate 0 --batch_size 4 --num_generations 6 --max_gen_len 6 --thinking_ratio 0 --save_dtype f32 >/dev/null
  python3 -c 'import json,sys; r=[json.loads(l)["reward"] for l in open(sys.argv[1])]; print(f"{sum(r)/len(r):.3f}")' "$work/eval/metrics.jsonl"
}
before=$(heldout "$sft")
start=$(date +%s)
"$mm" -q --threads 2 grpo --data_path "$work/rl_train.jsonl" --init "$sft" --out_dir "$work/grpo" "${arch[@]}" \
  --reward gt --loss_type "$loss" --learning_rate "${LR:-5e-4}" --epochs "${EPOCHS:-16}" --batch_size 4 --num_generations 6 \
  --max_gen_len 6 --thinking_ratio 0 --save_dtype f32 --save_interval 0 | tee "$work/grpo.log" | awk 'NR % 20 == 1'
secs=$(( $(date +%s) - start ))
after=$(heldout "$work/grpo/grpo_64.pth")
echo "held-out mean reward (gt + rules, -1.5..0.5): SFT $before -> GRPO ($loss) $after; GRPO ${secs}s; curve $work/grpo/grpo_reward.png"
