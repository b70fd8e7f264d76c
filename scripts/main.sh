#!/usr/bin/env bash
# The main job: a small real active-learning experiment on Fashion-MNIST.
# MLP, 100 initial labels, batches of 100, 10 rounds, 3 seeds, 2 worker processes, pool = 10 000 random
# training images (seed 0), full 10 000-image test set. Writes runs/main/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/labelwise run --dataset fashion-mnist --model mlp \
    --strategy random --strategy entropy --strategy coreset --strategy badge --strategy bait \
    --initial 100 --batch-size 100 --rounds 10 --seeds 3 --pool-size 10000 \
    --workers 2 --out runs/main "$@"
