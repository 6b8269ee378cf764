"""Shared training harness: one process or `torchrun --nproc_per_node=N`, resumable.

A training script reads top to bottom like this:

    ctx = harness.setup(args)                        # process group, device, threads, seeds
    run = harness.Run(args, modules={...}, optimizers={...}, config=arch_config)
    batches = harness.InfiniteBatches(dataset, args.batch, seed=args.seed)
    run.resume(batches)                              # no-op on a fresh run folder
    model = harness.wrap_ddp(model, ctx)
    with run:                                        # saves on exit, Ctrl-C and SIGTERM
        while run.keep_going():
            ...one optimisation step...
            run.record(loss_d=..., loss_g=...)       # counts the step, logs every --log-every
    harness.teardown()

The run folder (--out) holds `state.pt` (private training state: weights, optimizers, step,
RNG states of every rank, data position, elapsed time), `train.log` and `samples/*.png`.
Only rank 0 writes files. Every decision that needs collective calls (stop, save, log) is
taken from all-reduced values at the same step on every rank, so no rank is left waiting.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import math
import os
import random
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DistributedSampler, default_collate

from studio.devices import pick_device, supports_bf16
from studio.errors import StudioError

STATE_FILE = "state.pt"
# A gap this long between two steps (seconds) is a stopped process (SIGSTOP, a suspended laptop),
# not training: it is left out of the run's training time, its time limit and its model card.
PAUSE_GAP = 900.0
LOG_FILE = "train.log"


# ----------------------------------------------------------------------------- arguments


def add_run_args(p: argparse.ArgumentParser, *, require_out: bool = True) -> None:
    """The flags every training script shares."""
    g = p.add_argument_group("run")
    g.add_argument("--out", required=require_out, type=Path, help="run folder; starting again with the same folder resumes")
    g.add_argument("--max-steps", type=int, default=None, help="stop after this many steps in total")
    g.add_argument("--max-minutes", type=float, default=None, help="stop after this much training time in total (over resumes)")
    g.add_argument("--save-every-min", type=float, default=5.0, help="save state.pt this often (0: only at the end)")
    g.add_argument("--log-every", type=int, default=50, help="log averaged losses every N steps")
    g.add_argument("--threads", type=int, default=None, help="torch CPU threads per process")
    g.add_argument("--seed", type=int, default=0, help="base seed; rank r uses seed + r")
    g.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (torchrun: cuda:LOCAL_RANK)")


def check_run_args(args: argparse.Namespace) -> None:
    if args.out is None:
        raise StudioError("--out (the run folder) is required")
    if args.max_steps is not None and args.max_steps < 0:
        raise StudioError("--max-steps must be 0 or more")
    if args.max_minutes is not None and args.max_minutes < 0:
        raise StudioError("--max-minutes must be 0 or more")
    if args.save_every_min < 0:
        raise StudioError("--save-every-min must be 0 or more")
    if args.log_every < 1:
        raise StudioError("--log-every must be 1 or more")
    if args.threads is not None and args.threads < 1:
        raise StudioError("--threads must be 1 or more")
    if args.out.exists() and not args.out.is_dir():
        raise StudioError(f"--out {args.out} exists and is not a folder")


# ----------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class Context:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device


_CTX = Context(0, 1, 0, torch.device("cpu"))


def setup(args: argparse.Namespace) -> Context:
    """Join the process group when launched by torchrun; pick device, threads and seeds."""
    global _CTX
    rank = int(os.environ.get("RANK", 0))
    world = int(os.environ.get("WORLD_SIZE", 1))
    local = int(os.environ.get("LOCAL_RANK", 0))
    device = pick_device(args.device)
    if device.type == "cuda":
        device = torch.device("cuda", local if world > 1 else (device.index or 0))
        torch.cuda.set_device(device)
    elif world > 1 and device.type != "cpu":
        raise StudioError(f"multi-process training runs on cpu or cuda, not {device.type}")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if args.threads:
        torch.set_num_threads(args.threads)
    seed = args.seed + rank
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    _CTX = Context(rank, world, local, device)
    print(f"rank {rank} of {world} ready on {device}, {torch.get_num_threads()} threads", flush=True)
    return _CTX


def use_bf16(args: argparse.Namespace, device: torch.device) -> bool:
    """--bf16 / --no-bf16 if given, else wherever the device runs bf16 natively."""
    if getattr(args, "bf16", None) is not None:
        return bool(args.bf16)
    return supports_bf16(device)


def autocast(device: torch.device, enabled: bool):
    """bf16 autocast (losses and anything precision-critical stay float32 outside it)."""
    return torch.autocast(device.type, dtype=torch.bfloat16) if enabled else contextlib.nullcontext()


def cosine_lr(base: float, run: "Run") -> float:
    """Cosine decay to 1 % over the run, measured by whichever limit (steps or minutes) ends it first."""
    t = [run.step / run.max_steps] if run.max_steps else []
    t += [run.elapsed / (run.max_minutes * 60)] if run.max_minutes else []
    if not t:
        return base
    return base * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(max(t), 1.0))))


def hardware_summary() -> str:
    """What trained this, for model cards: processes x device, threads, CPU or GPU name."""
    import platform

    ctx = _CTX
    if ctx.device.type == "cuda":
        what = torch.cuda.get_device_name(ctx.device)
    else:
        what = platform.processor() or platform.machine()
        try:
            for line in open("/proc/cpuinfo", encoding="utf-8"):
                if line.startswith("model name"):
                    what = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        what = f"{what}, {torch.get_num_threads()} threads, no GPU"
    return f"{ctx.world_size} process(es) on {ctx.device.type}: {what}; torch {torch.__version__}"


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def context() -> Context:
    return _CTX


def is_main() -> bool:
    return _CTX.rank == 0


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def wrap_ddp(module: nn.Module, ctx: Context | None = None) -> nn.Module:
    """DistributedDataParallel when there are several processes; the module itself otherwise."""
    ctx = ctx or _CTX
    if ctx.world_size == 1:
        return module
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(module, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)


def unwrap(module: nn.Module) -> nn.Module:
    return module.module if hasattr(module, "module") and isinstance(module.module, nn.Module) else module


def all_reduce_mean(values: dict[str, float]) -> dict[str, float]:
    """Average scalars over ranks (every rank must call this at the same point)."""
    if not dist.is_initialized() or not values:
        return dict(values)
    keys = list(values)  # every rank records the same names in the same order
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=_reduce_device())
    dist.all_reduce(t)
    t /= dist.get_world_size()
    return dict(zip(keys, t.tolist()))


def _all_reduce_max(values: list[float]) -> list[float]:
    if not dist.is_initialized():
        return values
    t = torch.tensor(values, dtype=torch.float64, device=_reduce_device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t.tolist()


def _reduce_device() -> torch.device:
    return _CTX.device if dist.get_backend() == "nccl" else torch.device("cpu")


def _gather(obj) -> list:
    if not dist.is_initialized():
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


# ----------------------------------------------------------------------------- data


class InfiniteBatches:
    """Endless shuffled batches, each rank its own shard (DistributedSampler), resumable.

    A dataset with a `get_batch(indices)` method is asked for whole batches (fast for data
    held in one tensor); any other dataset is indexed item by item and collated.
    """

    def __init__(self, dataset, batch_size: int, *, seed: int = 0, shuffle: bool = True):
        self.dataset = dataset
        self.batch_size = batch_size
        self.sampler = DistributedSampler(
            dataset, num_replicas=_CTX.world_size, rank=_CTX.rank, shuffle=shuffle, seed=seed, drop_last=True
        )
        if len(self.sampler) < batch_size:
            raise StudioError(
                f"{len(dataset)} training items give each of {_CTX.world_size} process(es) {len(self.sampler)}, "
                f"fewer than one batch of {batch_size}; use a smaller --batch or more data"
            )
        self.epoch = 0
        self.offset = 0  # batches already taken from this epoch
        self._order: list[int] | None = None

    def __iter__(self):
        return self

    def __next__(self):
        if self._order is None:
            self.sampler.set_epoch(self.epoch)
            self._order = list(self.sampler)
        start = self.offset * self.batch_size
        if start + self.batch_size > len(self._order):
            self.epoch, self.offset, self._order = self.epoch + 1, 0, None
            return next(self)
        self.offset += 1
        idx = self._order[start : start + self.batch_size]
        if hasattr(self.dataset, "get_batch"):
            return self.dataset.get_batch(idx)
        return default_collate([self.dataset[i] for i in idx])

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "offset": self.offset}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.offset, self._order = int(state["epoch"]), int(state["offset"]), None


# ----------------------------------------------------------------------------- images


def write_grid(images: torch.Tensor, path: Path, nrow: int = 8, pad: int = 2) -> Path:
    """Save a batch (N, 3, H, W) in [-1, 1] as one PNG grid, atomically."""
    from PIL import Image

    x = images.detach().float().cpu().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    n, c, h, w = x.shape
    nrow = max(1, min(nrow, n))
    rows = (n + nrow - 1) // nrow
    grid = torch.full((c, rows * (h + pad) + pad, nrow * (w + pad) + pad), 255, dtype=torch.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        y0, x0 = pad + r * (h + pad), pad + col * (w + pad)
        grid[:, y0 : y0 + h, x0 : x0 + w] = x[i]
    arr = grid.permute(1, 2, 0).numpy()
    img = Image.fromarray(arr[:, :, 0] if c == 1 else arr)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    img.save(tmp, format="PNG")
    os.replace(tmp, path)
    return path


# ----------------------------------------------------------------------------- the run


def _rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def fingerprint(modules: dict[str, nn.Module]) -> str:
    """Hash of all parameters: replicas that DDP keeps in step have the same one."""
    h = hashlib.sha256()
    for name in sorted(modules):
        for pname, p in unwrap(modules[name]).named_parameters():
            h.update(f"{name}.{pname}".encode())
            h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _fmt_time(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class Run:
    """Run folder, resumable state, stop criteria, logging and signals for one training phase.

    `modules` and `optimizers` are saved and restored by name (pass the plain modules, or
    DDP-wrapped ones: they are unwrapped). `config` is what must not change between resumes
    (the architecture); `extra` is free-form state the script wants back (a fixed z batch).
    """

    def __init__(
        self,
        args: argparse.Namespace,
        *,
        modules: dict[str, nn.Module],
        optimizers: dict[str, torch.optim.Optimizer],
        config: dict | None = None,
        state_file: str = STATE_FILE,
        phase: str = "",
    ):
        check_run_args(args)
        self.dir = Path(args.out)
        self.state_path = self.dir / state_file
        self.modules, self.optimizers = modules, optimizers
        self.config = dict(config or {})
        self.phase = phase
        self.max_steps, self.max_minutes = args.max_steps, args.max_minutes
        self.save_every = args.save_every_min * 60.0
        self.log_every = args.log_every
        self.seed = args.seed
        self.extra: dict = {}
        self.step = 0
        self.stop_reason = ""
        self._batches: InfiniteBatches | None = None
        self._prior_elapsed = 0.0
        self._t0: float | None = None  # clock starts at the first keep_going()
        self._last_tick: float | None = None  # the previous keep_going()
        self._paused = 0.0  # gaps between steps longer than PAUSE_GAP: the process was stopped, not training
        self._last_save = 0.0
        self._sums: dict[str, float] = {}
        self._count = 0
        self._last_log = (0, 0.0)  # (step, elapsed) at the last log line
        self._signal = 0
        self._old_handlers: dict = {}
        if is_main():
            self.dir.mkdir(parents=True, exist_ok=True)
        barrier()

    # -- state -------------------------------------------------------------------------

    @property
    def elapsed(self) -> float:
        """Training wall time in seconds, over all sessions of this run."""
        return self._prior_elapsed + (0.0 if self._t0 is None else time.monotonic() - self._t0 - self._paused)

    def resume(self, batches: InfiniteBatches | None = None) -> bool:
        """Load state.pt from the run folder if there is one; True when resumed."""
        self._batches = batches
        if not self.state_path.exists():
            self.log(f"new run in {self.dir}")
            return False
        try:
            # Private state written by this harness into the folder the user named, hence
            # a full unpickle (optimizer and RNG states are not plain tensors).
            state = torch.load(self.state_path, map_location="cpu", weights_only=False)
        except Exception as e:  # a truncated or foreign file: say which and stop
            raise StudioError(f"cannot read training state {self.state_path}: {e}") from None
        saved_cfg = state.get("config", {})
        # Both ways: a key the saved run has and this one leaves out (a default) differs too.
        pairs = self._config_diff(saved_cfg, {**saved_cfg, **self.config})
        if pairs:
            raise StudioError(f"{self.dir} was started with {pairs}; use the same settings or a new --out")
        self.load_modules(state)
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        self.step = int(state["step"])
        self._prior_elapsed = float(state["elapsed"])
        self.extra = state.get("extra", {})
        if batches is not None and state.get("data"):
            batches.load_state_dict(state["data"])
        rng = state.get("rng", [])
        if len(rng) == _CTX.world_size:
            _set_rng_state(rng[_CTX.rank])
        else:  # different process count: carry on with fresh, still per-rank, seeds
            torch.manual_seed(self.seed + self.step * 1000 + _CTX.rank)
        self._last_log = (self.step, self._prior_elapsed)
        self.log(f"resumed {self.dir} at step {self.step} after {_fmt_time(self._prior_elapsed)}")
        return True

    def init_from(self, path: Path, same: tuple[str, ...] = ()) -> None:
        """Fine-tuning: take the weights (only) of another run's state file, for a run that
        starts here anew; its optimizers, step, clock and schedule start fresh. `same` names
        the config keys that must match (the architecture)."""
        try:
            state = torch.load(path, map_location="cpu", weights_only=False)  # a run folder's own state
        except Exception as e:
            raise StudioError(f"cannot read training state {path}: {e}") from None
        pairs = self._config_diff(state.get("config", {}) if isinstance(state, dict) else {}, same)
        if pairs:
            raise StudioError(f"{path} was trained with {pairs}; --init needs the same architecture")
        self.load_modules(state)
        self.extra["init"] = {"from": str(path), "step": int(state.get("step", 0))}
        self.log(f"weights from {path} (step {state.get('step', 0)})")

    def _config_diff(self, saved: dict, keys) -> str:
        """'key=saved (asked mine), ...' for the keys where the saved config differs ('' if none)."""
        return ", ".join(f"{k}={saved.get(k)!r} (asked {self.config.get(k)!r})" for k in keys
                         if saved.get(k) != self.config.get(k))

    def load_modules(self, state: dict) -> None:
        for name, m in self.modules.items():
            unwrap(m).load_state_dict(state["modules"][name])

    def save(self) -> None:
        """Write state.pt atomically (rank 0); every rank must call this at the same step."""
        rng = _gather(_rng_state())
        if is_main():
            state = {
                "step": self.step,
                "elapsed": self.elapsed,
                "phase": self.phase,
                "config": self.config,
                "modules": {k: unwrap(m).state_dict() for k, m in self.modules.items()},
                "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "rng": rng,
                "data": self._batches.state_dict() if self._batches is not None else None,
                "extra": self.extra,
                "world_size": _CTX.world_size,
                "seed": self.seed,
            }
            tmp = self.state_path.with_name(self.state_path.name + ".tmp")
            with open(tmp, "wb") as f:
                torch.save(state, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.state_path)
        self._last_save = time.monotonic()
        barrier()

    # -- the loop ----------------------------------------------------------------------

    def keep_going(self) -> bool:
        """Check the stop criteria (same answer on every rank) and save when due."""
        now = time.monotonic()
        if self._t0 is None:
            self._t0 = self._last_save = now
        elif now - self._last_tick > PAUSE_GAP:  # e.g. kill -STOP to free the cores for a benchmark
            self._paused += now - self._last_tick
        self._last_tick = now
        flag, elapsed, since_save = _all_reduce_max([float(self._signal), self.elapsed, now - self._last_save])
        if flag:
            self.stop_reason = "stopped by signal"
        elif self.max_steps is not None and self.step >= self.max_steps:
            self.stop_reason = f"reached --max-steps {self.max_steps}"
        elif self.max_minutes is not None and elapsed >= self.max_minutes * 60:
            self.stop_reason = f"reached --max-minutes {self.max_minutes:g}"
        else:
            if self.save_every > 0 and since_save >= self.save_every:
                self.save()
            return True
        return False

    def record(self, **scalars: float) -> None:
        """Count one finished step and its losses; log the averages every --log-every steps."""
        self.step += 1
        for k, v in scalars.items():
            self._sums[k] = self._sums.get(k, 0.0) + float(v)
        self._count += 1
        if self.step % self.log_every == 0:
            self._log_losses()

    def _log_losses(self) -> None:
        if not self._count:
            return
        means = all_reduce_mean({k: v / self._count for k, v in self._sums.items()})
        step0, t0 = self._last_log
        now = self.elapsed
        rate = (self.step - step0) / max(now - t0, 1e-9)
        losses = " ".join(f"{k} {v:.4f}" for k, v in means.items())
        self.log(f"step {self.step} | {losses} | {rate:.2f} it/s | {_fmt_time(now)}")
        self._sums, self._count, self._last_log = {}, 0, (self.step, now)

    def log(self, message: str) -> None:
        """One line to stdout and train.log (rank 0 only)."""
        if not is_main():
            return
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {self.phase + ' ' if self.phase else ''}{message}"
        print(line, flush=True)
        with open(self.dir / LOG_FILE, "a", encoding="utf-8") as f:
            f.write(line + "\n")

    def save_grid(self, images: torch.Tensor, name: str, nrow: int = 8) -> Path | None:
        """Write samples/<name>.png in the run folder (rank 0 only)."""
        if not is_main():
            return None
        return write_grid(images, self.dir / "samples" / f"{name}.png", nrow=nrow)

    def finish(self) -> None:
        """Final save and a replica check: every rank's parameter hash, logged by rank 0."""
        self._log_losses()
        self.save()
        prints = _gather(fingerprint(self.modules))
        if len(prints) > 1:
            same = len(set(prints)) == 1
            self.log(f"replicas {'in sync' if same else 'DIFFER'}: {' '.join(prints)}")
        self.log(f"{self.stop_reason or 'finished'} at step {self.step}, {_fmt_time(self.elapsed)} of training")

    # -- signals -----------------------------------------------------------------------

    def _on_signal(self, signum, frame) -> None:
        if self._signal and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        self._signal = signum

    def __enter__(self) -> "Run":
        # The first SIGTERM / Ctrl-C only raises a flag: the step in flight finishes, every
        # rank agrees to stop at the same step, and the state is saved.
        import threading

        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old_handlers[s] = signal.signal(s, self._on_signal)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        for s, h in self._old_handlers.items():
            signal.signal(s, h)
        self._old_handlers.clear()
        if exc_type is None:
            self.finish()
            return False
        if exc_type is KeyboardInterrupt and _CTX.world_size == 1:
            # One process: nothing to agree on, so save what there is and exit quietly.
            self.stop_reason = "interrupted"
            self.finish()
            return True
        return False


def run_main(main, argv=None) -> int:
    """Entry point wrapper: StudioError -> one line on stderr and exit code 2."""
    try:
        main(argv)
    except StudioError as e:
        print(f"studio: error: {e}", file=sys.stderr, flush=True)
        return 2
    finally:
        teardown()
    return 0
