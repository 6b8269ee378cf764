"""Find, verify and load model weights: `NAME.safetensors` + a `NAME.json` model card.

Search order: $STUDIO_MODELS_DIR or the user's models folder (platformdirs), then the bundled
`checkpoints/` folder. A user file of the same name shadows the bundled one, so a user can
drop in better weights without touching the install.

A checkpoint with a card is read only through safetensors, after the file's sha256 matches its
card and every tensor name and shape matches the architecture the card names. A `.safetensors`
or `.pth` file without a card is a community model (architecture "community"): studio.community
loads it through spandrel, a `.pth` only by torch.load(weights_only=True). Other pickle files are
never opened. Anything off is a CheckpointError naming the file and what is wrong.

A broken user file is never silently replaced by the bundled file of the same name: loading the
name fails with what is wrong with the user's file, and `studio models` says so.

A card's config is checked against bounds, and the net is first built on torch's "meta" device
(shapes without memory) to check the file's tensors, so a forged card (a billion blocks) fails
fast instead of allocating memory.
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
# Bounds of a card's config values. Real configs use ints up to 100 (blocks 16, channels 64,
# nz 100); building 1024 blocks on the meta device takes about a second.
CONFIG_MAX_INT = 1024
CONFIG_MAX_ITEMS = 64  # values in a list (dilations) and keys in a config
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


def _is_file(path: Path) -> bool:
    """Path.is_file(), but a folder we may not search is an error, not a missing file."""
    try:
        return path.is_file()
    except OSError as e:
        raise CheckpointError(f"cannot read {path}: {e.strerror or e}") from None


def _info_for(weights: Path) -> CheckpointInfo:
    if not _is_file(weights):  # a dangling link, a link loop, a folder or a pipe named *.safetensors
        raise CheckpointError(f"{weights} is not a readable file (a broken link, a link loop or not a file)")
    card_path = weights.with_suffix(CARD_EXT)
    card = community.card(weights) if community.is_community(weights) else _read_card(card_path)
    return CheckpointInfo(weights.stem, weights, card_path, card)


def list_checkpoints(verify: bool = False) -> tuple[list[CheckpointInfo], list[str]]:
    """Every checkpoint found (first of each name wins) and a problem line per broken one;
    verify=True also checks each carded file's sha256 (reads every file: `studio models`)."""
    found: dict[str, CheckpointInfo] = {}
    broken: set[str] = set()  # names a broken file holds: a later folder's file of that name is not used
    problems: list[str] = []
    for d in search_dirs():
        try:
            entries = _entries(d)
        except CheckpointError as e:
            problems.append(str(e))
            continue
        for w in (w for ext in WEIGHTS_EXTS for w in entries if w.name.endswith(ext)):
            if w.stem in found or w.stem in broken:
                continue
            try:
                info = _info_for(w)
                if verify and info.architecture != community.ARCHITECTURE:
                    _check_sha256(info)
                found[w.stem] = info
            except CheckpointError as e:
                broken.add(w.stem)
                problems.append(str(e) + _shadow_note(w))
        for p in entries:
            if p.suffix.lower() in PICKLE_EXTS:
                problems.append(f"{p}: pickle-format weights are never loaded; convert them to .safetensors "
                                "(or, for a community model, a weights-only .pth)")
    return list(found.values()), problems


def _entries(d: Path) -> list[Path]:
    """The folder's files, sorted ([] when it does not exist; CheckpointError when unreadable)."""
    try:
        return sorted(d.iterdir())
    except FileNotFoundError:
        if d.is_symlink():
            raise CheckpointError(f"models folder {d} is a broken link") from None
        return []
    except NotADirectoryError:
        raise CheckpointError(f"models folder {d} is a file, not a folder") from None
    except OSError as e:  # permission denied, a link loop
        raise CheckpointError(f"cannot read models folder {d}: {e.strerror or e}") from None


def _shadow_note(weights: Path) -> str:
    """What a broken file hides: the same name in a folder searched later (the bundled one)."""
    dirs = search_dirs()
    later = dirs[dirs.index(weights.parent) + 1:] if weights.parent in dirs else []
    for d in later:
        for ext in WEIGHTS_EXTS:
            if (d / (weights.stem + ext)).is_file():
                return (f"; the {weights.stem} in {d} is not used in its place (fix or remove this file "
                        "to use it)")
    return ""


def find_checkpoint(name: str) -> CheckpointInfo:
    """A checkpoint by name (`dcgan-faces64`) or by path to its .safetensors (or community .pth) file."""
    p = Path(name)
    if p.suffix.lower() in PICKLE_EXTS:
        raise CheckpointError(f"{name}: pickle-format weights are never loaded (they can run code); use a .safetensors file with its .json card")
    if p.suffix in WEIGHTS_EXTS or os.path.lexists(p):
        if not _is_file(p):
            raise CheckpointError(f"checkpoint file {p} not found")
        return _info_for(p)
    for d in search_dirs():
        for ext in WEIGHTS_EXTS:
            w = d / (name + ext)
            if _is_file(w):
                try:
                    return _info_for(w)
                except CheckpointError as e:
                    raise CheckpointError(str(e) + _shadow_note(w)) from None
            if w.is_symlink():  # a broken link or a loop: say so rather than use a later folder's file
                raise CheckpointError(f"{w} is a broken link or a link loop" + _shadow_note(w))
    where = ", ".join(str(d) for d in search_dirs())
    raise CheckpointError(f"checkpoint '{name}' not found (looked in {where}); `studio models` lists what is installed")


def _check_config(info: CheckpointInfo) -> dict:
    """The card's config, refused unless it is a small dict of names to small plain values."""
    config = info.card.get("config") or {}
    where = f"{info.weights}: model card config"

    def ok(v) -> bool:
        if isinstance(v, bool) or v is None:
            return True
        if isinstance(v, int):
            return 0 <= v <= CONFIG_MAX_INT
        if isinstance(v, float):
            return 0.0 <= v <= CONFIG_MAX_INT  # also false for nan and inf
        if isinstance(v, str):
            return len(v) <= 100
        return isinstance(v, list) and len(v) <= CONFIG_MAX_ITEMS and all(
            not isinstance(x, list) and ok(x) for x in v)

    if not isinstance(config, dict) or len(config) > CONFIG_MAX_ITEMS:
        raise CheckpointError(f"{where} is not a set of named values")
    for k, v in config.items():
        if not ok(v):
            raise CheckpointError(f"{where} '{k}' = {json.dumps(v)[:60]} is out of bounds "
                                  f"(numbers from 0 to {CONFIG_MAX_INT}); refusing to build it")
    return config


def _build(info: CheckpointInfo, config: dict, meta: bool = False):
    """The card's architecture; on the meta device (shapes without memory) with meta=True."""
    import contextlib

    import torch

    from studio.nets import registry

    try:
        with torch.device("meta") if meta else contextlib.nullcontext():
            return registry.build(info.architecture, config)
    except KeyError:
        raise CheckpointError(f"{info.weights}: unknown architecture '{info.architecture}' in its model card") from None
    except (TypeError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{info.weights}: model card config does not fit '{info.architecture}': {e}") from None


def _check_sha256(info: CheckpointInfo) -> None:
    try:
        digest = sha256_of(info.weights)
    except OSError as e:
        raise CheckpointError(f"cannot read {info.weights}: {e.strerror or e}") from None
    if digest != info.card["sha256"]:
        raise CheckpointError(
            f"{info.weights}: sha256 does not match its model card (file changed or corrupted); refusing to load it"
        )


def _verify(info: CheckpointInfo, expected_shapes: dict[str, tuple]) -> None:
    """The file's sha256 matches its card, and its tensor names and shapes the architecture's
    (read from the header: no tensor is loaded)."""
    from safetensors import SafetensorError
    from safetensors.torch import safe_open

    _check_sha256(info)
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


def load_model(name: str, device=None, *, eval_mode: bool = True):
    """Build the card's architecture, load verified weights; returns (module, CheckpointInfo).

    A community model (no card) comes as studio.nets.community.SpandrelSR, through spandrel.
    """
    info = find_checkpoint(name)
    try:
        module = community.load(info.weights) if info.architecture == community.ARCHITECTURE else _load_carded(info)
    except CheckpointError as e:
        raise CheckpointError(str(e) + _shadow_note(info.weights)) from None
    if device is not None:
        module.to(device)
    if eval_mode:
        module.eval()
    return module, info


def _load_carded(info: CheckpointInfo):
    """Bounds, then shapes on the meta device, then the file: only a file that fits is built
    for real, so memory use is bounded by the file's own size."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    config = _check_config(info)
    shapes = _build(info, config, meta=True).state_dict()
    omitted = _omitted(info.card)
    _verify(info, {k: tuple(v.shape) for k, v in shapes.items() if _kept(k, omitted)})
    module = _build(info, config)
    try:
        tensors = load_file(str(info.weights))
    except (SafetensorError, OSError) as e:  # changed since it was verified, or unreadable
        raise CheckpointError(f"cannot read {info.weights}: {e}") from None
    state = module.state_dict()
    with torch.no_grad():
        for k, v in tensors.items():
            state[k].copy_(v.to(state[k].dtype))
    return module


def _omitted(card: dict) -> tuple[str, ...]:
    """Submodules the card says were left out of the weights file (inference never uses them)."""
    names = card.get("omitted") or []
    if not isinstance(names, list) or not all(isinstance(n, str) and n.isidentifier() for n in names):
        raise CheckpointError(f"model card of {card.get('name', '?')}: 'omitted' must be a list of submodule names")
    return tuple(names)


def _kept(key: str, omitted: tuple[str, ...]) -> bool:
    return not any(key.startswith(name + ".") for name in omitted)


def save_checkpoint(module, stem: Path, *, architecture: str, config: dict, card: dict, dtype=None,
                    omit: tuple[str, ...] = ()) -> Path:
    """Write `stem.safetensors` (float tensors cast to dtype, float16 by default) + `stem.json`.

    Both files are written atomically; the card gets architecture, config, dtype and sha256.
    omit: submodules left out of the file (e.g. a GAN's discriminator, which no tool runs);
    the card lists them and loading leaves them at their untrained initial weights.
    """
    import torch
    from safetensors.torch import save_file

    dtype = torch.float16 if dtype is None else dtype
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for k, v in module.state_dict().items():
        if not _kept(k, tuple(omit)):
            continue
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
    full = {k: v for k, v in card.items() if k != "omitted"}
    if omit:
        full["omitted"] = list(omit)
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
