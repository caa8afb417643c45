"""Test helpers: installing a plugin distribution through real entry-point metadata."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def write_plugin_dist(site: Path, dist: str, modules: dict[str, str], entry_points: dict[str, str]):
    """Write importable modules plus a ``.dist-info`` declaring ``harbench`` entry points.

    This is exactly what pip leaves behind for an installed plugin, so importlib.metadata finds the
    entry points the same way it finds a real third-party package's.
    """
    site.mkdir(parents=True, exist_ok=True)
    for name, source in modules.items():
        (site / f"{name}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[harbench]\n{lines}\n")
    return site


def harbench_env(extra_path: Path | None = None, **env: str) -> dict[str, str]:
    """Environment for a harbench subprocess (unbuffered; optional extra site folder first)."""
    out = dict(os.environ)
    out["PYTHONUNBUFFERED"] = "1"
    out["COLUMNS"] = "200"
    if extra_path is not None:
        out["PYTHONPATH"] = os.pathsep.join([str(extra_path), out.get("PYTHONPATH", "")])
    out.update(env)
    return out


def run_cli(args: list[str], *, env: dict[str, str], cwd: Path, timeout: int = 300):
    """Run ``python -m harbench ARGS``; returns the CompletedProcess (text)."""
    return subprocess.run(
        [sys.executable, "-m", "harbench", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def capture_supervised_subjects(monkeypatch) -> list:
    """Spy on supervised pretraining: the list fills with the subject ids of every window each
    stage trains on (the real objective still runs)."""
    import numpy as np

    from harbench import pretrain

    seen: list = []
    real = pretrain.supervised

    def spy(model, X, y, subjects, **kwargs):
        seen.append(np.asarray(subjects).copy())
        return real(model, X, y, subjects, **kwargs)

    monkeypatch.setattr(pretrain.objectives, "supervised", spy)
    return seen
