#!/usr/bin/env bash
# Makes the Python side of `npm run bench -- vs-hf`: a virtual environment in .hf-venv/ (ignored by git) with the CPU
# build of torch and Hugging Face transformers 5.x, installed by pip from whatever index, find-links or wheel folder
# pip is configured with. Versions: PAPREC_HF_TORCH (default 2.13.0+cpu), PAPREC_HF_TRANSFORMERS (default 5.18.0);
# the folder: PAPREC_HF_VENV (default .hf-venv). Rerunning it on a complete environment only checks it.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${PAPREC_HF_VENV:-.hf-venv}
torch_version=${PAPREC_HF_TORCH:-2.13.0+cpu}
transformers_version=${PAPREC_HF_TRANSFORMERS:-5.18.0}
python=${PYTHON:-python3}
# An index that cannot be reached answers at once on an offline machine: do not back off five times per package.
export PIP_RETRIES=${PIP_RETRIES:-1}

die() {
  echo "hf-reference: $*" >&2
  exit 1
}

command -v "$python" >/dev/null 2>&1 ||
  die "no $python on PATH: install Python 3.9+ (Debian: apt-get install python3 python3-venv), or set PYTHON=/path/to/python3"
"$python" -c 'import venv, ensurepip' >/dev/null 2>&1 ||
  die "$python has no venv/ensurepip module: install it (Debian: apt-get install python3-venv) and rerun bash scripts/hf-reference.sh"

if [ ! -x "$venv/bin/python" ]; then
  echo "hf-reference: creating the virtual environment $venv ($("$python" --version 2>&1))"
  "$python" -m venv "$venv" || die "'$python -m venv $venv' failed (see above)"
fi
py="$venv/bin/python"
"$py" -m pip --version >/dev/null 2>&1 || die "$venv has no pip: remove $venv and rerun, or run '$py -m ensurepip'"

have() { # prints the installed version of a package, or nothing
  "$py" -c "import importlib.metadata as m; print(m.version('$1'))" 2>/dev/null || true
}

if [ "$(have torch)" != "$torch_version" ] || [ "$(have transformers)" != "$transformers_version" ]; then
  echo "hf-reference: installing torch==$torch_version transformers==$transformers_version into $venv"
  if ! "$py" -m pip install --no-input --disable-pip-version-check "torch==$torch_version" "transformers==$transformers_version"; then
    echo "hf-reference: pip could not install torch==$torch_version and transformers==$transformers_version." >&2
    echo "  pip's configuration (index, find-links) on this machine:" >&2
    "$py" -m pip config list 2>/dev/null | sed 's/^/    /' >&2 || true
    echo "  Missing: a pip index or wheel folder serving both. Give one (PIP_INDEX_URL=..., PIP_FIND_LINKS=/folder/of/wheels)," >&2
    echo "  or other versions (PAPREC_HF_TORCH=..., PAPREC_HF_TRANSFORMERS=...), then rerun bash scripts/hf-reference.sh" >&2
    exit 1
  fi
fi

"$py" - <<'EOF' || die "$venv: torch or transformers does not import (see above); remove $venv and rerun"
import torch, transformers
from transformers import T5Config, T5ForConditionalGeneration  # noqa: F401 (the bench's classes)
print(f"hf-reference: ready: python {__import__('sys').version.split()[0]}, torch {torch.__version__}, "
      f"transformers {transformers.__version__}, "
      f"CPU bf16 units: AMX {torch.cpu._is_amx_tile_supported()}, AVX512-BF16 {torch.cpu._is_avx512_bf16_supported()}")
EOF
echo "hf-reference: the bench finds it at $venv/bin/python (or set PAPREC_HF_PYTHON)"
