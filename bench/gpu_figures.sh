#!/usr/bin/env bash
# The encoder's GPU figures in one pass, for a machine with one CUDA GPU:
#
#     bash bench/gpu_figures.sh OUT_DIR        (PYTHON=python3 to pick the interpreter)
#
# 1. throughput and MFU of the paper preset (flat, its design, and multiview at equal input;
#    batch 1 and 2, as a 224 px x 64-frame x 9-view study takes tens of GB of activations),
#    then the flat tower under torch.compile;
# 2. throughput and MFU of gpu-base (multiview and static at the preset's batch of 64; multiview
#    and flat side by side at 16, where flat still fits), multiview's block stacks compiled,
#    then both presets with gradient checkpointing (paper at batch 8, which does not fit
#    without it);
# 3. the real command line on the GPU: a demo dataset generated and ingested, gpu-base trained
#    with a stop and a resume, embedded, and one epoch under torchrun (NCCL).
# Everything printed also goes to OUT_DIR/gpu_figures.log as it runs, with the training run's
# metrics.jsonl and status.json beside it; bench/RESULTS.md records the figures.
set -uo pipefail
out=${1:?usage: bench/gpu_figures.sh OUT_DIR}
py=${PYTHON:-python}
work=$(mktemp -d)
mkdir -p "$out"
exec > >(tee -a "$out/gpu_figures.log") 2>&1
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1

part() {  # part NAME COMMAND...: run COMMAND, say how it ended and after how long
    local name=$1
    shift
    echo "== $name: $*"
    local start=$SECONDS
    "$@" 2>&1 | grep -v "^W[0-9]\{4\} "  # not torch's compile warnings
    echo "== $name: exit ${PIPESTATUS[0]} after $((SECONDS - start)) s"
}

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
$py -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"

bench="$py -m bench.bench_train --device cuda --mfu"
part paper-b1 $bench --presets paper --kinds flat,multiview --batch-size 1 --steps 8
part paper-compiled $bench --presets paper --kinds flat --batch-size 1 --steps 5 --compile
part paper-b2 $bench --presets paper --kinds flat,multiview --batch-size 2 --steps 5
part gpu-base-b64 $bench --presets gpu-base --kinds multiview,static --steps 10
part gpu-base-b16 $bench --presets gpu-base --kinds multiview,flat --batch-size 16 --steps 10
part gpu-base-compiled $bench --presets gpu-base --kinds multiview --steps 10 --compile
part checkpointed $bench --presets gpu-base --kinds multiview --steps 10 --grad-checkpointing
part paper-checkpointed $bench --presets paper --kinds flat --batch-size 8 --steps 3 \
    --grad-checkpointing --compile

raw=$work/raw
data=$work/ds
part generate $py -m model generate --out "$raw" --studies 640 --site internal --seed 0 --workers 12
part ingest $py -m model ingest "$raw/dicom" --reports "$raw/reports.csv" --out "$data" --workers 12
labels=(--val-labels "$raw/labels.csv")
run=$work/run
part train-stop $py -m model train --data "$data" --preset gpu-base --out "$run" --epochs 3 \
    --max-steps 5 "${labels[@]}"
part train-resume $py -m model train --data "$data" --preset gpu-base --out "$run" --epochs 3 \
    --resume "${labels[@]}"
cp "$run/metrics.jsonl" "$run/status.json" "$out/" 2>/dev/null
part embed $py -m model embed --checkpoint "$run/best.pt" --data "$data" --out "$work/emb.npz"
part torchrun $py -m torch.distributed.run --nproc_per_node 1 -m model train --data "$data" \
    --preset gpu-base --out "$work/ddp" --epochs 1
rm -rf "$work"
