"""Desktop integration and packaging files: the .desktop entry, icons, the user install script,
the PyInstaller spec, and the STUDIO_QUIT_AFTER_LOAD hook the bundle's smoke check relies on.
(The bundle itself is built and checked by packaging/build.sh + check_bundle.sh, not here: slow.)"""

import ast
import configparser
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "resources"
PACKAGING = ROOT / "packaging"
ICON_SIZES = (16, 32, 48, 64, 128, 256)
PROJECT_TYPE = "application/x-gan-studio-project"
MIME_TYPES = {"image/png", "image/jpeg", "image/webp", "image/tiff", PROJECT_TYPE}
MIME_XML = "gan-studio-mime.xml"


def _desktop_entry(path: Path) -> dict:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive in .desktop files
    parser.read_string(path.read_text(encoding="utf-8"))
    return dict(parser["Desktop Entry"])


def test_desktop_file_declares_the_app_and_the_image_types():
    entry = _desktop_entry(RESOURCES / "gan-studio.desktop")
    assert entry["Type"] == "Application"
    assert entry["Name"] == "GAN Studio" and entry["GenericName"] == "Image Editor"
    assert entry["Icon"] == "gan-studio" and entry["Terminal"] == "false"
    exec_words = entry["Exec"].split()
    assert exec_words[0] == "gan-studio" and exec_words[-1] in ("%f", "%F")
    assert set(filter(None, entry["MimeType"].split(";"))) == MIME_TYPES
    assert {"Graphics", "RasterGraphics"} <= set(entry["Categories"].split(";"))
    # The window manager matches windows to the entry by WM_CLASS = the Qt application name.
    app_source = (ROOT / "studio" / "ui" / "app.py").read_text(encoding="utf-8")
    assert f'setApplicationName("{entry["StartupWMClass"]}")' in app_source
    assert 'setDesktopFileName("gan-studio")' in app_source  # Wayland app id = the entry's file name


@pytest.mark.parametrize("n", ICON_SIZES)
def test_icon_pngs_have_their_stated_size(n):
    png = RESOURCES / "icons" / "hicolor" / f"{n}x{n}" / "apps" / "gan-studio.png"
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size == (n, n) and im.mode == "RGBA"
    assert png.stat().st_size < 40_000  # committed: keep them small


def test_icon_svg_is_square_svg():
    root = ET.parse(RESOURCES / "icons" / "gan-studio.svg").getroot()
    assert root.tag.endswith("svg") and root.get("viewBox") == "0 0 256 256"


def test_mime_xml_declares_the_project_type_by_its_extension():
    ns = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
    root = ET.parse(RESOURCES / MIME_XML).getroot()
    (mime_type,) = root.findall("m:mime-type", ns)
    assert mime_type.get("type") == PROJECT_TYPE
    from studio.project import SUFFIX
    assert [g.get("pattern") for g in mime_type.findall("m:glob", ns)] == [f"*{SUFFIX}"]


def _run_install(tmp_path, *args, path: str | None = None):
    env = {**os.environ, "HOME": str(tmp_path / "home"), "XDG_DATA_HOME": str(tmp_path / "data"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), **({"PATH": path} if path else {})}
    return subprocess.run(["bash", str(RESOURCES / "install-desktop.sh"), *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_install_script_installs_and_uninstalls_for_the_user(tmp_path):
    exe = tmp_path / "app dir" / "gan-studio"  # a space: Exec must quote it
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    out = _run_install(tmp_path, str(exe))
    assert out.returncode == 0, out.stderr
    installed = tmp_path / "data" / "applications" / "gan-studio.desktop"
    entry = _desktop_entry(installed)
    assert entry["Exec"] == f'"{exe}" %f' and entry["TryExec"] == str(exe)
    assert set(filter(None, entry["MimeType"].split(";"))) == MIME_TYPES
    icons = tmp_path / "data" / "icons" / "hicolor"
    for n in ICON_SIZES:
        assert (icons / f"{n}x{n}" / "apps" / "gan-studio.png").read_bytes() == \
            (RESOURCES / "icons" / "hicolor" / f"{n}x{n}" / "apps" / "gan-studio.png").read_bytes()
    assert (icons / "scalable" / "apps" / "gan-studio.svg").is_file()
    assert not (tmp_path / "config" / "mimeapps.list").exists()  # defaults only with --default
    mime = tmp_path / "data" / "mime"
    assert (mime / "packages" / MIME_XML).read_bytes() == (RESOURCES / MIME_XML).read_bytes()
    database = shutil.which("update-mime-database") is not None
    if database:  # the database was rebuilt: file managers know *.ganstudio now
        assert f"{PROJECT_TYPE}:*.ganstudio" in (mime / "globs2").read_text()

    out = _run_install(tmp_path, "--uninstall")
    assert out.returncode == 0, out.stderr
    assert not installed.exists()
    assert not list(icons.rglob("gan-studio.*"))
    assert not (mime / "packages" / MIME_XML).exists()
    if database:
        assert "ganstudio" not in (mime / "globs2").read_text()


def test_install_script_needs_none_of_the_optional_desktop_tools(tmp_path):
    """No xdg-mime, update-mime-database or cache tools (a bare system): the files still go in."""
    bare = tmp_path / "bin"
    bare.mkdir()
    for tool in ("bash", "dirname", "mkdir", "mv", "install", "readlink", "rm", "sed", "grep"):
        (bare / tool).symlink_to(shutil.which(tool))
    exe = tmp_path / "gan-studio"
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    out = _run_install(tmp_path, str(exe), path=str(bare))
    assert out.returncode == 0, out.stderr
    packaged = tmp_path / "data" / "mime" / "packages" / MIME_XML
    assert packaged.is_file() and not (packaged.parent.parent / "mime.cache").exists()
    out = _run_install(tmp_path, "--uninstall", path=str(bare))
    assert out.returncode == 0, out.stderr
    assert not packaged.exists()


def test_install_script_relative_path_becomes_absolute_and_bad_path_is_refused(tmp_path):
    exe = tmp_path / "gan-studio"
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    env = {**os.environ, "HOME": str(tmp_path / "home"), "XDG_DATA_HOME": str(tmp_path / "data")}
    out = subprocess.run(["bash", str(RESOURCES / "install-desktop.sh"), "gan-studio"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert _desktop_entry(tmp_path / "data" / "applications" / "gan-studio.desktop")["Exec"] == f"{exe} %f"

    out = _run_install(tmp_path, str(tmp_path / "nowhere" / "gan-studio"))
    assert out.returncode == 2 and "not an executable" in out.stderr


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils not installed")
def test_desktop_file_passes_desktop_file_validate():
    out = subprocess.run(["desktop-file-validate", str(RESOURCES / "gan-studio.desktop")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and not out.stdout.strip(), out.stdout + out.stderr


def test_spec_ships_checkpoints_icons_and_leaves_out_unused_parts():
    text = (PACKAGING / "gan-studio.spec").read_text(encoding="utf-8")
    ast.parse(text)  # a spec is Python
    assert re.search(r'ROOT / "checkpoints"', text) and '"checkpoints")' in text
    assert '"resources/icons"' in text
    assert 'name="gan-studio"' in text and "COLLECT(" in text  # onedir
    for unused in ("PySide6.QtNetwork", "PySide6.QtQml", "PySide6.QtQuick", "pytest", "torch/include/*"):
        assert f'"{unused}"' in text, unused
    for script in ("build.sh", "check_bundle.sh"):
        assert subprocess.run(["bash", "-n", str(PACKAGING / script)], timeout=30).returncode == 0
    with Image.open(PACKAGING / "smoke.png") as im:
        assert im.size == (64, 64)


def _open_and_quit(tmp_path, image: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "STUDIO_QUIT_AFTER_LOAD": "1", "QT_QPA_PLATFORM": "offscreen", "OMP_NUM_THREADS": "1",
           "HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_DATA_HOME": str(tmp_path / "data")}
    return subprocess.run([sys.executable, "-m", "studio", str(image)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=90)


def test_quit_after_load_hook_exits_0_after_loading_and_nonzero_on_a_bad_file(tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(np.full((24, 32, 3), 128, np.uint8)).save(good)
    out = _open_and_quit(tmp_path, good)
    assert out.returncode == 0, out.stderr

    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    out = _open_and_quit(tmp_path, bad)
    assert out.returncode == 1 and "bad.png" in out.stderr


def test_the_launcher_command_opens_a_project_file(tmp_path):
    """`studio work.ganstudio`, as the desktop entry runs it for a double-clicked project."""
    from studio.editing.document import Document
    from studio.imageio import load_image
    from studio.project import save_project

    good = tmp_path / "good.png"
    Image.fromarray(np.full((24, 32, 3), 128, np.uint8)).save(good)
    save_project(tmp_path / "work.ganstudio", Document(load_image(good)))
    out = _open_and_quit(tmp_path, tmp_path / "work.ganstudio")
    assert out.returncode == 0, out.stderr

    (tmp_path / "bad.ganstudio").write_bytes(b"PK\x03\x04 truncated")
    out = _open_and_quit(tmp_path, tmp_path / "bad.ganstudio")
    assert out.returncode == 1 and "not a GAN Studio project" in out.stderr
