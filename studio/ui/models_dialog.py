"""About / Models: every installed checkpoint described in words (name, task, size, training data,
metrics, licence), its raw model card behind Details, and where models were looked for."""

from __future__ import annotations

import html
import json

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QListWidget, QListWidgetItem, QPlainTextEdit,
                               QPushButton, QSplitter, QTextBrowser, QVBoxLayout, QWidget)

from studio import __version__

# Words for the abbreviations metric names are built from ("center32_psnr_hole_db").
_WORDS = {"psnr": "PSNR", "ssim": "SSIM", "db": "(dB)", "sec": "seconds", "per": "per", "lpips": "LPIPS",
          "fid": "FID", "telea": "Telea", "bicubic": "bicubic", "acc": "accuracy"}
_METRIC_SECTIONS = ("metrics", "validation")  # flat dicts of figures in the cards we ship


def metric_label(key: str) -> str:
    text = " ".join(_WORDS.get(w, w) for w in key.split("_"))
    return text[:1].upper() + text[1:]


def _size_text(info) -> str:
    size = info.card.get("size_bytes")
    if not isinstance(size, (int, float)):
        try:
            size = info.weights.stat().st_size
        except OSError:
            return ""
    text = f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.1f} kB"
    return f"{text}, {info.card['dtype']}" if info.card.get("dtype") else text


def describe(info) -> str:
    """A checkpoint's card as HTML a person reads: what it does, how big, what it learned from, how good."""
    card = info.card
    esc = lambda v: html.escape(str(v))  # noqa: E731
    parts = [f"<h3>{esc(card.get('title') or info.name)}</h3>",
             f"<p><b>{esc(info.name)}</b> — architecture {esc(info.architecture)}</p><table cellspacing='4'>"]
    for label, value in (("Task", card.get("task")), ("Method", card.get("method")), ("Size", _size_text(info)),
                         ("Training data", card.get("training_data")), ("Licence", card.get("license"))):
        if value:
            parts.append(f"<tr><td valign='top'><b>{label}</b></td><td>{esc(value)}</td></tr>")
    parts.append("</table>")
    figures = [(k, v) for section in _METRIC_SECTIONS if isinstance(card.get(section), dict)
               for k, v in card[section].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if figures:
        parts.append("<p><b>Metrics</b></p><table cellspacing='2'>")
        parts += [f"<tr><td>{esc(metric_label(k))}</td><td align='right'>{v:.4g}</td></tr>" for k, v in figures]
        parts.append("</table>")
        protocol = card.get("metrics_protocol") or (card.get("validation") or {}).get("protocol")
        if protocol:
            parts.append(f"<p><i>Measured: {esc(protocol)}</i></p>")
    else:
        parts.append("<p>No metrics on its card.</p>")
    parts.append(f"<p>File: {esc(info.weights)}</p>")
    return "".join(parts)


class ModelsDialog(QDialog):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        from studio.checkpoints import list_checkpoints, search_dirs

        self.setWindowTitle("About GAN Studio — Models")
        self.resize(940, 560)
        found, problems = list_checkpoints()
        layout = QVBoxLayout(self)
        where = "<br>".join(html.escape(str(d)) for d in search_dirs())
        about = QLabel(f"<b>GAN Studio {__version__}</b> — offline generative image editing.<br>"
                       f"Models are looked up in, first match wins:<br>{where}")
        about.setWordWrap(True)
        layout.addWidget(about)
        split = QSplitter()
        self.list = QListWidget()
        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 0, 0)
        self.card = QTextBrowser()  # the description in words
        self.details = QPushButton("Details: the full model card")
        self.details.setCheckable(True)
        self.raw = QPlainTextEdit(readOnly=True)  # the card as stored, for those who want every field
        self.raw.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.raw.hide()
        self.details.toggled.connect(self.raw.setVisible)
        column.addWidget(self.card, 2)
        column.addWidget(self.details)
        column.addWidget(self.raw, 1)
        split.addWidget(self.list)
        split.addWidget(right)
        split.setSizes([300, 640])
        layout.addWidget(split, 1)
        for info in found:
            item = QListWidgetItem(f"{info.name}  —  {info.task}" if info.task else info.name)
            item.setData(256, (describe(info), json.dumps(info.card, indent=2) + f"\n\n{info.weights}"))
            self.list.addItem(item)
        for line in problems:
            item = QListWidgetItem("⚠ problem")
            item.setData(256, (f"<p>{html.escape(line)}</p>", line))
            self.list.addItem(item)
        if not found and not problems:
            self.card.setPlainText("No checkpoints are installed.")
        self.list.currentItemChanged.connect(self._show)
        if self.list.count():
            self.list.setCurrentRow(0)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _show(self, item, _previous=None) -> None:
        described, raw = item.data(256) if item is not None else ("", "")
        self.card.setHtml(described)
        self.raw.setPlainText(raw)
