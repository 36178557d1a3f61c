#!/usr/bin/env bash
# GPU verification in one command, under 8 minutes on one GPU: the tests that are skipped without CUDA, the
# bundled model sampled and trained on CUDA against the CPU (bench/gpu_check.py: exit 1 if an agreement check
# fails), and the GPU benchmarks against diffusers. On a machine without CUDA it says so and exits 0.
#
#   bash bench/gpu_check.sh
#
# Python: .venv/bin/python if there is one, else $PYTHON, else python3 (a GPU machine's own PyTorch). Wheels
# in .whl/ (e.g. diffusers and babel, see bench/README.md) are installed into /tmp/site first: a GPU machine
# may have no package index to reach.
set -uo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
[ -x .venv/bin/python ] && python=.venv/bin/python
if compgen -G ".whl/*.whl" >/dev/null; then
  "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
if ! "$python" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "No CUDA device here (torch.cuda.is_available() is False): skipping the GPU checks."
  exit 0
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
status=0
echo "== tests skipped without CUDA"
"$python" -m pytest -q -p no:cacheprovider -o addopts="" \
  "tests/test_diffusion.py::test_results_agree_across_devices" \
  "tests/test_samplers.py::test_cpu_and_accelerator_agree_in_fp32" || status=1
echo "== the bundled model on CUDA, and the benchmarks"
PYTHONUNBUFFERED=1 "$python" bench/gpu_check.py || status=1
exit $status
