"""packaging/gpu_check.sh: on a machine without CUDA it says so, writes its log and exits 0."""

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "packaging" / "gpu_check.sh"


def test_gpu_check_skips_cleanly_without_cuda(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "CUDA_VISIBLE_DEVICES": ""}  # no GPU, even on a CUDA machine
    run = subprocess.run(["bash", str(SCRIPT), str(tmp_path / "logs")], env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert "skipped: PyTorch sees no CUDA GPU" in run.stdout
    assert "skipped: PyTorch sees no CUDA GPU" in (tmp_path / "logs" / "gpu_check.log").read_text()
    assert not (tmp_path / "logs" / "tests.log").exists()  # nothing ran


def test_gpu_check_wants_a_log_folder():
    run = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "usage" in run.stderr
