#!/bin/bash
# Dump fresh mixtures on every core, then train three variants side by side (for a machine with many
# cores and, optionally, a GPU; see README.md "On a bigger machine"). Nothing here needs a GPU.
#
#   models/denoiser/parallel_run.sh DATA_DIR WORK_DIR OUT_DIR DUMP_MINUTES TRAIN_MINUTES
#
# Environment: PY (python with torch, numpy, scipy, soundfile; default python3), DEV (torch device,
# default cpu), JOBS (dump processes, default: cores - 1). Writes to OUT_DIR each variant's best and
# last checkpoint without optimizer state (ft192_best.pt, ...) and logs.tgz. Variants:
#   ft192  the shipped model fine-tuned (finetune.toml), batch 128
#   s192   the shipped size from scratch, lr 2e-3
#   s256   GRUs of 256 (758 k weights) from scratch, lr 2e-3
set -u
DATA=$(realpath "$1"); WORK=$(realpath -m "$2"); OUT=$(realpath "$3"); DUMP_MIN=$4; TRAIN_MIN=$5
PY=${PY:-python3}; DEV=${DEV:-cpu}; JOBS=${JOBS:-$(($(nproc) - 1))}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$WORK"
export PYTHONPATH=$ROOT/dsp:${PYTHONPATH:-} OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1
cd "$ROOT/models/denoiser"
$PY -c "import soundfile, torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
$PY dataset.py --split val --count 120 --seed 99 --max-s 8 --out "$WORK/val.npz" --data-dir "$DATA" --allow-missing \
  > "$OUT/dump_val.log" 2>&1 &
for j in $(seq 1 "$JOBS"); do
  $PY dataset.py --split train --count 2000 --seed $((100 + j)) --out "$WORK/train_g$j.npz" --data-dir "$DATA" \
    --allow-missing --max-minutes "$DUMP_MIN" > "$OUT/dump_$j.log" 2>&1 &
done
wait
cd "$ROOT"
ls -la "$WORK"
TRAIN="[$(cd "$WORK" && ls train_g*.npz | sed 's/.*/"&"/' | paste -sd,)]"
COMMON=(--device "$DEV" --max-minutes "$TRAIN_MIN" --set "data.cache_dir=\"$WORK\"" --set "data.train=$TRAIN"
  --set train.batch=128 --set train.eval_minutes=1.0 --set train.checkpoint_minutes=1.0
  --set train.overestimate_weight=1.0)
SCRATCH=(--set train.lr=2e-3 --set train.lr_final=5e-5 --set train.warmup_steps=100)
R=models/denoiser/recipe.py
$PY $R "${COMMON[@]}" --checkpoint-dir "$WORK/ft192" --config models/denoiser/finetune.toml \
  --init-onnx dsp/echo_sense_dsp/assets/denoiser.onnx > "$OUT/train_ft192.log" 2>&1 &
$PY $R "${COMMON[@]}" "${SCRATCH[@]}" --checkpoint-dir "$WORK/s192" > "$OUT/train_s192.log" 2>&1 &
$PY $R "${COMMON[@]}" "${SCRATCH[@]}" --checkpoint-dir "$WORK/s256" --set model.gru_size=256 \
  > "$OUT/train_s256.log" 2>&1 &
wait
for v in ft192 s192 s256; do
  for name in best last; do
    [ -f "$WORK/$v/$name.pt" ] || continue
    $PY -c "import sys, torch; ck = torch.load(sys.argv[1], weights_only=False, map_location='cpu');
ck.pop('optimizer', None); torch.save(ck, sys.argv[2])" "$WORK/$v/$name.pt" "$OUT/${v}_$name.pt"
  done
done
tail -n 3 "$OUT"/train_*.log
(cd "$OUT" && tar czf logs.tgz ./*.log && rm -f ./*.log)
