"""Every tool of the app, in one list: the CLI builds its image commands from it, the GUI its
panels, the model cache its engines. A new tool is an engine class plus one entry here (and an
options class, above its entry); a panel of its own only if the generic one does not fit.

Qt-free and torch-free: engines and panels are named by "module:Class" strings and imported on
first use, so `studio --help` and the window's start-up load no network code.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from studio import options as opt

INPAINT_ENGINES = ("auto", "face", "photo", "classic")
# Default texture strength (engines/texture.py): all of the photo's own texture, synthesised along the
# net's fill. Lower values mix the net's smooth fill back in (higher hole PSNR, visibly smoother).
DETAIL_STRENGTH = 1.0
EDIT_TRANSFERS = ("local", "delta", "replace")


@dataclass(frozen=True)
class UpscaleOptions:
    tile: int | None = opt.number(None, "tile size in input pixels (smaller uses less memory)", lo=32, hi=4096,
                                  none="auto", step=32, label="Tile size")
    faces: bool = opt.flag(False, "detected faces are also upscaled by the face model (face-sr-x4) and blended "
                           "back into the upscaled image", label="Enhance faces")

    def __post_init__(self):
        opt.validate(self)


@dataclass(frozen=True)
class InpaintOptions:
    engine: str = opt.choice("auto", INPAINT_ENGINES,
                             "auto: the face engine when the mask lies on a detected face (or a face box is "
                             "given), else the photo engine; face: GAN latent search on the face; photo: the "
                             "photo inpainting network; classic: OpenCV Telea, no model")
    steps: int | None = opt.number(None, "search steps (face engine); more is slower and can be sharper", lo=1,
                                   hi=5000, none="default", step=50, enabled_if=("engine", ("auto", "face")))
    seed: int | None = opt.number(None, "random seed, for reproducible results", lo=0, hi=2**31 - 1,
                                  none="random")
    box: opt.Box | None = opt.box("face crop x,y,w,h (skips face detection)", gui=False)
    variants: int = opt.number(1, "face engine: this many different fills from different faces of the GAN, best "
                               "first (the CLI saves the others as NAME-2, NAME-3, ...)", lo=1, hi=8,
                               metavar="N", enabled_if=("engine", ("auto", "face")))
    detail: float = opt.number(DETAIL_STRENGTH, "photo engine: how much of the fill is texture synthesised from "
                               f"the rest of the photo along the net's fill (default {DETAIL_STRENGTH:g}; 0 = the "
                               "net's smooth fill)", lo=0.0, hi=1.0, integer=False, metavar="0..1", percent=True, step=0.1,
                               enabled_if=("engine", ("auto", "photo")))

    def __post_init__(self):
        opt.validate(self)


@dataclass(frozen=True)
class EditOptions:
    changes: tuple[tuple[str, float], ...] = opt.pairs("attribute values, e.g. --set Smiling=1 --set "
                                                       "Eyeglasses=-1 (1 = present, -1 = absent, -2..2)",
                                                       flag="--set", metavar="ATTR=VALUE", required=True, gui=False)
    box: opt.Box | None = opt.box("face crop x,y,w,h (skips face detection)", gui=False)
    face: int | None = opt.number(None, "which detected face to edit, counted from the left (default: the "
                                  "largest)", lo=1, hi=1000, none="largest", metavar="K", gui=False)
    transfer: str = opt.choice("local", EDIT_TRANSFERS,
                               "local (default): the generator's pixels where the edit changes the face strongly, "
                               "else only the change; delta: only the change (keeps the most of the person, "
                               "weaker edits); replace: the generated face", gui=False)
    gain: float | None = opt.number(None, "scale of the change the generator is asked for (default: the model "
                                    "card's calibrated gain per attribute; 1 = the plain IcGAN edit)", lo=0.01,
                                    hi=4.0, integer=False, none="calibrated", gui=False)
    links: bool = opt.flag(True, "make other hair colours absent when one is made present (and bald vs. bangs, "
                           "straight vs. wavy hair)", gui=False)

    def __post_init__(self):
        opt.validate(self)


VIDEO_ENGINES = ("auto", "face", "scene")


@dataclass(frozen=True)
class VideoInpaintOptions:
    engine: str = opt.choice("auto", VIDEO_ENGINES, "auto: scene (measured as good as face on talking "
                             "heads, and faster); scene: what other frames show is copied "
                             "from them, the rest filled once by the photo engine and carried along; face: GAN latent "
                             "search over groups of frames, each starting from the previous one's")
    window: int = opt.number(30, "frames processed together: how far the scene engine looks for what the object "
                             "hides; the face engine's group (at most 16) (more uses more memory)", lo=2, hi=300,
                             metavar="W")
    crf: int = opt.number(18, "output quality as x264's CRF: 0 = lossless, 18 = visually lossless, 23 = x264's "
                          "default; lower is larger", lo=0, hi=51, metavar="N", label="Quality (CRF)")
    key_frame: int | None = opt.number(None, "the mask image was painted on this frame (counted from 0) and follows "
                                       "its object through the clip (rigid objects: logos, signs)", lo=0,
                                       hi=10**7, none="still", metavar="N")
    grow: int = opt.number(2, "widen the mask by this many pixels (covers soft and compressed edges)", lo=0,
                           hi=32, metavar="PX", label="Grow mask")
    detail: float = opt.number(DETAIL_STRENGTH, "how much matched texture the photo engine adds where no frame "
                               f"shows the background (default {DETAIL_STRENGTH:g})", lo=0.0, hi=1.0,
                               integer=False, metavar="0..1", percent=True, step=0.1)

    def __post_init__(self):
        opt.validate(self)


@dataclass(frozen=True)
class Tool:
    name: str  # the CLI command, the cache key, the settings key
    title: str  # the GUI's tab
    action: str  # the GUI's menu item and run button ("&" before its access key)
    help: str  # one line: the CLI's help, the panel's hint
    engine: str  # "module:Class", built as Class(model, device) and run(image, mask, options, job)
    options: type  # frozen dataclass of per-run options (studio.options)
    model: str | None = None  # default checkpoint (None: the engine loads what it needs itself)
    architectures: tuple[str, ...] = ()  # checkpoints of these architectures may serve it (--model)
    mask: bool = False  # reads the mask (white = fill)
    scale: int = 1  # the result is this many times the image's size
    panel: str = "studio.ui.tool_panel:ToolPanel"  # "module:Class" of its GUI panel
    shortcut: str = ""  # of the GUI's run action
    gui: bool = True  # has a panel in the window
    job: str = ""  # the status bar's name of a running job (default: the title)
    step_label: str = ""  # the undo step's name (default: the action)
    done: str = "{title}: done ({what})"  # the status after a run; {what}: the engine's notes or the model
    hint: str = ""  # the panel's text above its controls (default: the help)

    def __post_init__(self):
        object.__setattr__(self, "job", self.job or self.title)
        object.__setattr__(self, "step_label", self.step_label or self.action.replace("&", ""))
        object.__setattr__(self, "hint", self.hint or self.help[:1].upper() + self.help[1:] + ".")

    def engine_class(self):
        return load(self.engine)

    def panel_class(self):
        return load(self.panel)


def load(path: str):
    """"package.module:Name" -> the object."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


TOOLS: list[Tool] = [
    Tool("inpaint", "Restore", "&Fill masked area", "fill the white part of a mask",
         "studio.engines.inpaint:Inpainter", InpaintOptions, model="photo-inpaint", mask=True,
         shortcut="Ctrl+Return", job="Inpainting", step_label="Inpaint", done="Filled with the {what}",
         hint="Paint over what should be filled (left button; right button or E erases), then fill. For faces "
              "you may drag a face box (F)."),
    # The faithful span-x4 is the default: the sharp srgan has not yet passed issue 20's gate (no
    # periodic artifact at 100 %, detail >= 0.8 at >= 27 dB on Set14), see docs/upscaling.md.
    Tool("upscale", "Upscale", "&Upscale 4×", "4x super-resolution (span-x4 faithful, srgan sharp)",
         "studio.engines.upscale:Upscaler",
         UpscaleOptions, model="span-x4", architectures=("srresnet", "span", "community"), scale=4,
         job="Upscaling",
         done="Upscaled to {size} with {what}",
         hint="4x super-resolution: span-x4 is faithful, srgan sharper. Large images are processed in tiles; "
              "smaller tiles use less memory."),
    Tool("edit", "Face", "Face &attributes…", "change face attributes (IcGAN)", "studio.engines.edit:FaceEditor",
         EditOptions, model="icgan-faces64", architectures=("icgan64",), panel="studio.ui.face_panel:FacePanel",
         job="Editing the face"),
]


# Not in TOOLS (whose entries are image commands and panels): the video counterpart of "inpaint",
# run(frames, masks, options, job, total) -> frames (studio/video/engine.py); the model is the photo engine's.
VIDEO = Tool("inpaint-video", "Video", "&Restore video…", "remove an object or a mark from a video",
             "studio.video.engine:VideoInpainter", VideoInpaintOptions, model="photo-inpaint", mask=True, gui=False,
             job="Restoring the video", done="Restored the video with the {what}")


def run_engine(engine, rgb, mask, options, job) -> list:
    """One image through a tool's engine, as the CLI and the window both run it: a list of
    results, the engine's variants (best first) when the options ask for several and it makes them."""
    if getattr(options, "variants", 1) > 1 and hasattr(engine, "run_variants"):
        return engine.run_variants(rgb, mask, options, job)
    return [engine.run(rgb, mask, options, job)]


def tool(name: str) -> Tool:
    for t in (*TOOLS, VIDEO):
        if t.name == name:
            return t
    raise KeyError(name)


def installed_models(t: Tool) -> list[str]:
    """Installed checkpoints that can serve the tool (from model cards only: no torch)."""
    from studio.checkpoints import list_checkpoints

    if not t.architectures:
        return [t.model] if t.model else []
    found, _ = list_checkpoints()
    return [c.name for c in found if c.architecture in t.architectures]


def unavailable(t: Tool, model: str | None = None) -> str | None:
    """None when the tool can run (with this model, else with any it accepts); else a plain
    sentence why not (from files only: no torch)."""
    installed = installed_models(t) if t.architectures else []
    if model is not None and model not in installed:
        return (f"No {t.title.lower()} model is installed (checkpoint '{model}' not found). Put it in your "
                "models folder (Settings).")
    if t.architectures and t.model and not installed:
        return (f"No {t.title.lower()} model is installed (a checkpoint whose card says "
                f"'{'/'.join(t.architectures)}', such as '{t.model}'). Put one in your models folder (Settings).")
    return None
