"""Find, verify and load model weights: `NAME.safetensors` + a `NAME.json` model card.

Search order: $STUDIO_MODELS_DIR or the user's models folder (platformdirs), then the bundled
`checkpoints/` folder. A user file of the same name shadows the bundled one, so a user can
drop in better weights without touching the install.

A checkpoint with a card is read only through safetensors, after the file's sha256 matches its
card and every tensor name and shape matches the architecture the card names. A `.safetensors`
or `.pth` file without a card is a community model (architecture "community"): studio.community
loads it through spandrel, a `.pth` only by torch.load(weights_only=True). Other pickle files are
never opened. Anything off is a CheckpointError naming the file and what is wrong.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from studio import community
from studio.errors import CheckpointError

WEIGHTS_EXT = ".safetensors"
CARD_EXT = ".json"
WEIGHTS_EXTS = (WEIGHTS_EXT, community.PTH_EXT)  # searched by name, in this order
PICKLE_EXTS = (".pt", ".ckpt", ".bin", ".pkl", ".pickle")  # never opened (a .pth is read weights-only)
BUNDLED_DIR = Path(__file__).resolve().parent.parent / "checkpoints"


def user_models_dir() -> Path:
    env = os.environ.get("STUDIO_MODELS_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("gan-studio", appauthor=False)) / "models"


def search_dirs() -> list[Path]:
    dirs = []
    if not os.environ.get("STUDIO_NO_USER_MODELS"):
        dirs.append(user_models_dir())
    dirs.append(Path(os.environ.get("STUDIO_BUNDLED_CHECKPOINTS", BUNDLED_DIR)))
    return dirs


@dataclass(frozen=True)
class CheckpointInfo:
    name: str
    weights: Path
    card_path: Path
    card: dict

    @property
    def architecture(self) -> str:
        return self.card.get("architecture", "?")

    @property
    def task(self) -> str:
        return self.card.get("task", "")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_card(card_path: Path) -> dict:
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"model card {card_path} is missing (every checkpoint needs its .json card)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"model card {card_path} is not readable JSON: {e}") from None
    if not isinstance(card, dict) or "architecture" not in card or "sha256" not in card:
        raise CheckpointError(f"model card {card_path} lacks 'architecture' or 'sha256'")
    return card


def _info_for(weights: Path) -> CheckpointInfo:
    card_path = weights.with_suffix(CARD_EXT)
    card = community.card(weights) if community.is_community(weights) else _read_card(card_path)
    return CheckpointInfo(weights.stem, weights, card_path, card)


def list_checkpoints() -> tuple[list[CheckpointInfo], list[str]]:
    """Every checkpoint found (first of each name wins) and a problem line per broken one."""
    found: dict[str, CheckpointInfo] = {}
    problems: list[str] = []
    for d in search_dirs():
        if not d.is_dir():
            continue
        for w in (w for ext in WEIGHTS_EXTS for w in sorted(d.glob("*" + ext))):
            if w.stem in found:
                continue
            try:
                found[w.stem] = _info_for(w)
            except CheckpointError as e:
                problems.append(str(e))
        for p in sorted(d.iterdir()):
            if p.suffix.lower() in PICKLE_EXTS:
                problems.append(f"{p}: pickle-format weights are never loaded; convert them to .safetensors "
                                "(or, for a community model, a weights-only .pth)")
    return list(found.values()), problems


def find_checkpoint(name: str) -> CheckpointInfo:
    """A checkpoint by name (`dcgan-faces64`) or by path to its .safetensors (or community .pth) file."""
    p = Path(name)
    if p.suffix.lower() in PICKLE_EXTS:
        raise CheckpointError(f"{name}: pickle-format weights are never loaded (they can run code); use a .safetensors file with its .json card")
    if p.suffix in WEIGHTS_EXTS or p.exists():
        if not p.is_file():
            raise CheckpointError(f"checkpoint file {p} not found")
        return _info_for(p)
    for d in search_dirs():
        for ext in WEIGHTS_EXTS:
            w = d / (name + ext)
            if w.is_file():
                return _info_for(w)
    where = ", ".join(str(d) for d in search_dirs())
    raise CheckpointError(f"checkpoint '{name}' not found (looked in {where}); `studio models` lists what is installed")


def _verify_and_read(info: CheckpointInfo, expected_shapes: dict[str, tuple]) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    digest = sha256_of(info.weights)
    if digest != info.card["sha256"]:
        raise CheckpointError(
            f"{info.weights}: sha256 does not match its model card (file changed or corrupted); refusing to load it"
        )
    try:
        with safe_open(str(info.weights), framework="pt") as f:
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{info.weights} is not a valid safetensors file: {e}") from None
    missing = sorted(set(expected_shapes) - set(shapes))
    extra = sorted(set(shapes) - set(expected_shapes))
    wrong = sorted(k for k in set(shapes) & set(expected_shapes) if shapes[k] != expected_shapes[k])
    if missing or extra or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} tensors missing (e.g. {missing[0]})")
        if extra:
            parts.append(f"{len(extra)} unexpected tensors (e.g. {extra[0]})")
        if wrong:
            k = wrong[0]
            parts.append(f"{len(wrong)} with wrong shapes (e.g. {k}: {shapes[k]} instead of {expected_shapes[k]})")
        raise CheckpointError(f"{info.weights} does not fit architecture '{info.architecture}': " + "; ".join(parts))
    return load_file(str(info.weights))


def load_model(name: str, device=None, *, eval_mode: bool = True):
    """Build the card's architecture, load verified weights; returns (module, CheckpointInfo).

    A community model (no card) comes as studio.nets.community.SpandrelSR, through spandrel.
    """
    info = find_checkpoint(name)
    module = community.load(info.weights) if info.architecture == community.ARCHITECTURE else _load_carded(info)
    if device is not None:
        module.to(device)
    if eval_mode:
        module.eval()
    return module, info


def _load_carded(info: CheckpointInfo):
    import torch

    from studio.nets import registry

    try:
        module = registry.build(info.architecture, info.card.get("config") or {})
    except KeyError:
        raise CheckpointError(f"{info.weights}: unknown architecture '{info.architecture}' in its model card") from None
    except TypeError as e:
        raise CheckpointError(f"{info.weights}: model card config does not fit '{info.architecture}': {e}") from None
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    tensors = _verify_and_read(info, expected)
    state = module.state_dict()
    with torch.no_grad():
        for k, v in tensors.items():
            state[k].copy_(v.to(state[k].dtype))
    return module


def save_checkpoint(module, stem: Path, *, architecture: str, config: dict, card: dict, dtype=None) -> Path:
    """Write `stem.safetensors` (float tensors cast to dtype, float16 by default) + `stem.json`.

    Both files are written atomically; the card gets architecture, config, dtype and sha256.
    """
    import torch
    from safetensors.torch import save_file

    dtype = torch.float16 if dtype is None else dtype
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for k, v in module.state_dict().items():
        v = v.detach().cpu()
        if v.is_floating_point():
            v = v.to(dtype)
        tensors[k] = v.contiguous()
    weights = stem.with_name(stem.name + WEIGHTS_EXT)
    fd, tmp = tempfile.mkstemp(dir=stem.parent, prefix=".tmp-", suffix=WEIGHTS_EXT)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={"architecture": architecture})
        digest = sha256_of(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp makes it private; weights are meant to be shared
        os.replace(tmp, weights)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    full = dict(card)
    full.update(
        name=stem.name,
        architecture=architecture,
        config=config,
        dtype=str(dtype).replace("torch.", ""),
        sha256=digest,
        size_bytes=weights.stat().st_size,
    )
    _atomic_write_text(stem.with_name(stem.name + CARD_EXT), json.dumps(full, indent=2, sort_keys=False) + "\n")
    return weights


def update_card(name: str, **fields) -> dict:
    """Merge fields (e.g. measured metrics) into an existing checkpoint's card."""
    info = find_checkpoint(name)
    if info.architecture == community.ARCHITECTURE:
        raise CheckpointError(f"{info.weights} is a community model: it has no model card to update")
    card = dict(info.card)
    for k, v in fields.items():
        if isinstance(v, dict) and isinstance(card.get(k), dict):
            card[k] = {**card[k], **v}
        else:
            card[k] = v
    _atomic_write_text(info.card_path, json.dumps(card, indent=2) + "\n")
    return card


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
