#!/usr/bin/env bash
# Creates benches/pruning/.venv with the pinned peers (Optuna, numpy; the same pins as
# benches/quality) and builds hypersweep's pruning worker.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
[[ -x "$here/.venv/bin/python" ]] || "${PYTHON:-python3}" -m venv "$here/.venv"
"$here/.venv/bin/pip" install --quiet optuna==5.0.0 numpy==2.4.6
(cd "$repo" && cargo build --release --example pruning_worker)
echo "ready: $here/.venv/bin/python $here/run.py --seeds 10"
