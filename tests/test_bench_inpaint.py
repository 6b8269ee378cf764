import json

import numpy as np
import torch
from PIL import Image

from studio.checkpoints import save_checkpoint
from studio.cli import main
from studio.nets.dcgan import DCGAN64


def test_bench_inpaint_reports_every_method(tmp_path, monkeypatch, capsys):
    faces = tmp_path / "faces"
    faces.mkdir()
    rng = np.random.default_rng(0)
    for i in range(1, 5):
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(faces / f"{i}.jpg")
    torch.manual_seed(0)
    save_checkpoint(DCGAN64(ngf=8, ndf=8, nef=8), tmp_path / "dcgan-faces64", architecture="dcgan64",
                    config={"ngf": 8, "ndf": 8, "nef": 8}, card={})
    monkeypatch.setenv("STUDIO_BUNDLED_CHECKPOINTS", str(tmp_path))
    out = tmp_path / "bench.json"
    assert main(["bench", "inpaint", "--faces", str(faces), "--holdout", "2", "--n", "2",
                 "--methods", "ours,telea", "--json", str(out), "--grid", str(tmp_path / "grid.png")]) == 0
    res = json.loads(out.read_text())
    assert res["n"] == 2 and set(res["results"]) == {"ours", "telea"}
    for r in res["results"].values():
        assert 0 < r["psnr_hole"] <= r["psnr_whole"] < 99 and r["sec_per_face"] > 0
    assert "| ours |" in capsys.readouterr().out
    assert (tmp_path / "grid.png").exists()
