#!/usr/bin/env bash
# Rebuilds the quickstart's bundled data sample from ../shared/corpus:
# every 19th Chinese poetry document, every 19th English document and every
# 34th SFT conversation (deterministic), gzipped, with the licence notices.
set -euo pipefail
cd "$(dirname "$0")/.."
src=../shared/corpus
out=quickstart/data
mkdir -p "$out/licenses"
{
  zcat "$src/pretrain_zh_poetry.jsonl.gz" | awk 'NR % 19 == 1'
  zcat "$src/pretrain_en.jsonl.gz" | awk 'NR % 19 == 1'
} | gzip -9n > "$out/pretrain.jsonl.gz"
zcat "$src/sft_mix.jsonl.gz" | awk 'NR % 34 == 1' | gzip -9n > "$out/sft.jsonl.gz"
zcat "$src/eval_zh_poetry.jsonl.gz" | awk 'NR % 4 == 1' | gzip -9n > "$out/eval.jsonl.gz"
cp "$src"/licenses/* "$out/licenses/"
ls -l "$out"
