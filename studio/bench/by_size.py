"""Benchmarks whose --size picks another module (the 256-px face benchmarks have their own
methods and figures): read --size before the full parser, and hand the whole argv on."""

from __future__ import annotations

import argparse
import importlib

from studio.errors import StudioError


def run_for_size(argv: list[str], prog: str, modules: dict[int, str], default: int, sizes: str) -> int | None:
    """modules[--size].main(argv) when argv's --size names one; None when it is `default` (the
    caller's own benchmark); StudioError naming `sizes` for any other size."""
    pre = argparse.ArgumentParser(prog=prog, add_help=False)
    pre.add_argument("--size", type=int, default=default)
    size = pre.parse_known_args(argv)[0].size
    if size in modules:
        return importlib.import_module(modules[size]).main(argv)
    if size != default:
        raise StudioError(f"--size is {sizes}, not {size}")
    return None
