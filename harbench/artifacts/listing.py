"""What a stored run kept: its artefact folder, the files in it, what was left out and why,
and the energy entry of its details (for ``harbench show`` and ``harbench export-model``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from harbench.artifacts.request import folder_for
from harbench.contracts import HarbenchError

HOW = "run its suite again with --save-artifacts --rerun (or an 'artifacts' block in defaults)"


def run_extra(store: Any, run_id: str) -> dict[str, Any]:
    """The free-form part of a run's stored details (artefacts, energy, ...)."""
    _, rows = store.query("SELECT extra FROM details WHERE run_id = ?", [run_id])
    if not rows or not rows[0][0]:
        return {}
    try:
        extra = json.loads(rows[0][0])
    except ValueError:
        return {}
    return extra if isinstance(extra, dict) else {}


def listing(store: Any, run_id: str) -> dict[str, Any]:
    """{"folder", "present", "files": {name: bytes}, "saved", "not_saved"} of a stored run."""
    record = run_extra(store, run_id).get("artifacts") or {}
    folder = folder_for(store.path, run_id)
    files = {}
    if folder.is_dir():
        files = {str(p.relative_to(folder)): p.stat().st_size
                 for p in sorted(folder.rglob("*")) if p.is_file()}
    return {"folder": str(folder), "present": folder.is_dir(), "files": files,
            "saved": record.get("saved", {}), "not_saved": record.get("not_saved", {}),
            "requested": bool(record)}


def lines(store: Any, run_id: str) -> list[str]:
    """Plain lines describing a run's artefacts and energy, for ``harbench show``."""
    info = listing(store, run_id)
    out = []
    if not info["requested"]:
        out.append(f"  none saved ({HOW})")
    elif not info["present"]:
        out.append(f"  {info['folder']} is missing (moved or deleted since the run)")
    else:
        out.append(f"  folder {info['folder']}")
        out += [f"    {name}  {size} bytes" for name, size in info["files"].items()]
    out += [f"  not saved: {name}: {why}" for name, why in info["not_saved"].items()]
    onnx = info["saved"].get("onnx")
    if onnx:
        out.append(f"  onnx: opset {onnx.get('opset')}, exporter {onnx.get('exporter')}, "
                   f"max |onnx - torch| {onnx.get('max_abs_diff'):.2g}")
    energy = run_extra(store, run_id).get("energy") or {}
    for part, entry in energy.items():
        if "joules" in entry:
            out.append(f"  energy {part}: {entry['joules']:.1f} J from {entry.get('source')}")
        else:
            out.append(f"  energy {part}: absent: {entry.get('absent')}")
    return out


def export(store: Any, run_id: str, output: str | Path) -> list[Path]:
    """Copy a run's artefact folder to ``output`` (created; existing files are replaced)."""
    info = listing(store, run_id)
    if not info["present"]:
        why = HOW if not info["requested"] else f"{info['folder']} is missing"
        raise HarbenchError(f"run {run_id} has no saved artefacts: {why}")
    source, output = Path(info["folder"]), Path(output)
    if output.resolve() == source.resolve():
        raise HarbenchError(f"{output} is the run's own artefact folder")
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for name in info["files"]:
        target = output / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, target)
        written.append(target)
    return written
