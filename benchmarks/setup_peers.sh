#!/usr/bin/env bash
# Create benchmarks/.venv-keras: the peer frameworks the benchmarks compare rnnkit with.
#
#   bash benchmarks/setup_peers.sh            # from the repository root (or anywhere)
#   PYTHON=python3.11 bash benchmarks/setup_peers.sh
#
# Keras 3 (TensorFlow and torch backends) lives in its own virtual environment so that
# TensorFlow never shares a process or a site-packages with rnnkit's .venv. The benchmarks
# (bench_step.py, bench_sentiment.py) look for benchmarks/.venv-keras/bin/python and run
# benchmarks/keras_side.py with it; without it they skip the Keras peers and say so.
#
# torch is pinned to exactly the version rnnkit's .venv uses (constraints.txt): a CPU wheel of
# it is on this machine's disk and pip takes it. Never ask for an unpinned torch here: pip
# would fetch a newer, multi-gigabyte CUDA build.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv-keras"
PYTHON="${PYTHON:-python3}"
TF_VERSION="${TF_VERSION:-2.21.0}"
KERAS_VERSION="${KERAS_VERSION:-3.15.1}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"

if [ ! -x "$VENV/bin/python" ]; then
    echo "creating $VENV with $($PYTHON -V 2>&1)"
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --upgrade --quiet pip
start=$(date +%s)
"$VENV/bin/python" -m pip install \
    "tensorflow-cpu==$TF_VERSION" "keras==$KERAS_VERSION" "torch==$TORCH_VERSION"
echo "pip install took $(( $(date +%s) - start )) s"

echo "--- checking imports"
export TF_CPP_MIN_LOG_LEVEL=2  # TensorFlow: warnings and errors only
KERAS_BACKEND=tensorflow "$VENV/bin/python" - <<'PY'
import numpy, tensorflow as tf, keras
assert keras.backend.backend() == "tensorflow", keras.backend.backend()
print(f"tensorflow {tf.__version__}, keras {keras.__version__} (backend {keras.backend.backend()}), "
      f"numpy {numpy.__version__}")
m = keras.Sequential([keras.Input((5,), dtype="int32"), keras.layers.Embedding(10, 4),
                      keras.layers.LSTM(3), keras.layers.Dense(1, activation="sigmoid")])
print("  tiny LSTM forward:", m.predict_on_batch(numpy.zeros((2, 5), "int32")).shape)
PY
KERAS_BACKEND=torch "$VENV/bin/python" - <<'PY'
import numpy, torch, keras
assert keras.backend.backend() == "torch", keras.backend.backend()
print(f"torch {torch.__version__}, keras {keras.__version__} (backend {keras.backend.backend()})")
m = keras.Sequential([keras.Input((5,), dtype="int32"), keras.layers.Embedding(10, 4),
                      keras.layers.LSTM(3), keras.layers.Dense(1, activation="sigmoid")])
print("  tiny LSTM forward:", tuple(m.predict_on_batch(numpy.zeros((2, 5), "int32")).shape))
PY
case "$("$VENV/bin/python" -c 'import torch; print(torch.__version__)')" in
    "$TORCH_VERSION"*) ;;
    *) echo "warning: torch in $VENV is not $TORCH_VERSION" >&2 ;;
esac
echo "--- size: $(du -sh "$VENV" | cut -f1)"
echo "ok: $VENV"
