#!/usr/bin/env bash
# The whole self-distillation loop with the embedded 0.5B model as the only teacher:
# generate -> verify -> canonicalise -> train a LoRA -> eval base vs adapter on held-out.
# Every stage's figures end up in self-distill/: the generate summary (calls, kept and
# rejected per reason), verdicts.jsonl, canonicalise.txt, the adapter's
# training_summary.json (tokens, time) and eval/ (scores before and after, compare.html).
# Stages whose output exists are skipped, so a stopped run continues where it was.
#   bash examples/self-distill/run.sh            # SCALE=0.25 for a quick reduced loop
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$(pwd)/self-distill"   # absolute: config paths are relative to the config file
scale="${SCALE:-1}"
mkdir -p "$out"
stage() { echo; echo "== $1 ($(date -u +%H:%M:%S))"; }
count() { python -c "print(max(1, round($1 * $scale)))"; }

stage "1/5 generate"
if [ ! -s "$out/generated.jsonl" ]; then
  airloom generate --config "$here/generate.yaml" \
    --set "output_path=$out/generated.jsonl" --set "topics_path=$out/topics.txt" \
    --set "instructors.plan.count=$(count 40)" --set "instructors.agent.count=$(count 60)" \
    --set "instructors.contextual.count=$(count 120)" 2>&1 | tee "$out/generate.txt"
fi

stage "2/5 verify"
[ -s "$out/kept.jsonl" ] || airloom verify "$out/generated.airloom.db" --out "$out/kept.jsonl" \
  --report "$out/verdicts.jsonl" -q 2>&1 | tee "$out/verify.txt"

stage "3/5 canonicalise"
python "$here/canonicalise.py" "$out/kept.jsonl" "$out/train.jsonl" | tee "$out/canonicalise.txt"

stage "4/5 train"
[ -f "$out/adapter/training_summary.json" ] || airloom train --config "$here/train.yaml" \
  --data "$out/train.jsonl" --set "output_dir=$out/adapter" 2>&1 | tee "$out/train.txt"

stage "5/5 eval (held-out: base, then the adapter)"
airloom eval --split heldout --kind plan --kind function --kind context \
  --compare "$out/adapter" --out "$out/eval" ${EVAL_LIMIT:+--limit "$EVAL_LIMIT"}
