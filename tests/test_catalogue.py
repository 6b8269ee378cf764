"""The catalogue, typed options and the model cache: one list of tools, options validated in one
place, one live engine per tool."""

from __future__ import annotations

import dataclasses
import gc
import inspect
import weakref

import pytest

from studio import catalogue, model_cache
from studio import options as opt
from studio.catalogue import EditOptions, InpaintOptions, UpscaleOptions
from studio.cli import build_parser, options_from
from studio.errors import StudioError
from studio.model_cache import ModelCache


def test_every_tool_names_an_engine_of_the_one_shape_and_typed_options():
    assert [t.name for t in catalogue.TOOLS] == ["inpaint", "upscale", "edit"]
    for t in catalogue.TOOLS:
        cls = t.engine_class()
        assert list(inspect.signature(cls.run).parameters)[1:5] == ["rgb", "mask", "options", "job"], t.name
        assert list(inspect.signature(cls.__init__).parameters)[1:3] == ["model", "device"], t.name
        assert dataclasses.is_dataclass(t.options) and t.options.__dataclass_params__.frozen
        assert opt.fields(t.options) == list(dataclasses.fields(t.options))  # every field has its Spec
        t.options()  # the defaults are valid


@pytest.mark.parametrize("make, message", [
    (lambda: InpaintOptions(detail=1.5), "Detail wants a number from 0 to 1, got 1.5"),
    (lambda: InpaintOptions(detail=float("nan")), "Detail wants a number"),
    (lambda: InpaintOptions(engine="magic"), "Engine wants one of auto, face, photo, classic"),
    (lambda: InpaintOptions(steps=0), "Steps wants a whole number from 1 to 5000"),
    (lambda: InpaintOptions(seed=2.5), "Seed wants a whole number"),
    (lambda: InpaintOptions(box=(0, 0, 0, 5)), "Box wants x,y,w,h"),
    (lambda: UpscaleOptions(tile=16), "Tile size wants a whole number from 32 to 4096, got 16"),
    (lambda: EditOptions(gain=0), "Gain wants a number from 0.01 to 4"),
    (lambda: EditOptions(links="yes"), "Links wants on or off"),
])
def test_options_are_validated_in_one_place_with_one_line_messages(make, message):
    with pytest.raises(StudioError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_options_keep_canonical_values_and_none_where_it_has_a_meaning():
    o = InpaintOptions(steps=50.0, box=[1, 2, 3, 4])
    assert o.steps == 50 and type(o.steps) is int and o.box == (1, 2, 3, 4)
    assert InpaintOptions().seed is None and UpscaleOptions().tile is None
    with pytest.raises(StudioError):
        InpaintOptions(detail=None)  # no meaning for None: refused
    assert EditOptions(changes=[["Smiling", "1"]]).changes == (("Smiling", 1.0),)


def test_cli_arguments_are_built_from_the_options():
    p = build_parser()
    args = p.parse_args(["inpaint", "a.png", "m.png", "-o", "o.png", "--detail", "0.2", "--box", "1,2,3,4"])
    assert options_from(args, InpaintOptions) == InpaintOptions(detail=0.2, box=(1, 2, 3, 4))
    assert options_from(p.parse_args(["inpaint", "a", "m", "-o", "o"]), InpaintOptions) == InpaintOptions()
    args = p.parse_args(["edit", "a.png", "-o", "o.png", "--set", "Smiling=1", "--set", "Bald=-1", "--no-links"])
    e = options_from(args, EditOptions)
    assert e.changes == (("Smiling", 1.0), ("Bald", -1.0)) and e.links is False and e.transfer == "local"
    assert options_from(p.parse_args(["upscale", "a", "-o", "o", "--tile", "64"]), UpscaleOptions).tile == 64


class Engine:
    def __init__(self, tool, model, device):
        self.key = (tool, model, device)


def test_the_model_cache_keeps_one_live_engine_per_tool_and_frees_the_old_one():
    built = []

    def build(tool, model, device):
        built.append((tool, model, device))
        return Engine(tool, model, device)

    cache = ModelCache(build)
    a = cache.engine("upscale", "srgan", "cpu")
    assert cache.engine("upscale", "srgan", "cpu") is a and len(built) == 1  # options never reach the cache
    b = cache.engine("inpaint", None, "cpu")
    gone = weakref.ref(a)
    del a
    c = cache.engine("upscale", "srresnet", "cpu")  # another model of the same tool replaces it
    gc.collect()
    assert gone() is None, "the old network is still alive"
    assert cache.loaded() == [("inpaint", None, "cpu"), ("upscale", "srresnet", "cpu")]
    assert cache.engine("inpaint", None, "cpu") is b and c.key == ("upscale", "srresnet", "cpu")
    assert cache.loads == 3
    cache.clear()
    assert cache.loaded() == [] and cache.engine("inpaint", None, "cpu") is not b


def test_the_default_build_makes_the_catalogue_engine(monkeypatch):
    seen = []

    class Fake:
        def __init__(self, model, device):
            seen.append((model, str(device)))

    monkeypatch.setattr(catalogue.Tool, "engine_class", lambda self: Fake)
    assert isinstance(ModelCache().engine("upscale", None, "cpu"), Fake)
    assert isinstance(model_cache.build_engine("edit", "mine", "cpu"), Fake)
    assert seen == [("span-x4", "cpu"), ("mine", "cpu")]  # None = the tool's default model


def test_reading_the_catalogue_and_building_the_cli_load_no_torch():
    import subprocess
    import sys

    code = ("import sys; from studio.cli import build_parser; from studio import catalogue; build_parser(); "
            "[catalogue.installed_models(t) for t in catalogue.TOOLS]; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_the_options_form_refuses_numbers_it_cannot_show(qtbot):
    from studio.ui.options_form import OptionsForm

    @dataclasses.dataclass(frozen=True)
    class Unbounded:
        strength: float | None = opt.number(None, "how much", lo=0.0, hi=1.0, integer=False, none="auto")

    with pytest.raises(ValueError, match="gui=False"):
        OptionsForm(Unbounded)
