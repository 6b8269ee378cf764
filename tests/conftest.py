import os
from pathlib import Path

import pytest

# Qt must never try to open a real display in tests.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Keep tests from reading or writing the real user's models folder.
os.environ.setdefault("STUDIO_NO_USER_MODELS", "1")

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("STUDIO_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture
def model_folders(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """An empty user models folder and an empty bundled one, searched in that order."""
    user, bundled = tmp_path / "user-models", tmp_path / "bundled"
    user.mkdir()
    bundled.mkdir()
    monkeypatch.delenv("STUDIO_NO_USER_MODELS", raising=False)
    monkeypatch.setenv("STUDIO_MODELS_DIR", str(user))
    monkeypatch.setenv("STUDIO_BUNDLED_CHECKPOINTS", str(bundled))
    return user, bundled


@pytest.fixture
def shared_data() -> Path:
    """The shared data folder, or skip: a user's clone does not have it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA
