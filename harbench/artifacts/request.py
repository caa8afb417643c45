"""Which artefacts a suite asks its runs to keep, and where they go.

The ``artifacts`` block of a suite's ``defaults`` (or ``harbench run --save-artifacts``) asks
for files; it is not part of a run's identity, because keeping a model does not change any
number the run stores. The request reaches the runs through the environment variable
``HARBENCH_ARTIFACTS`` (JSON), which every executor forwards to its workers like the other
``HARBENCH_*`` variables, so a run is still a function of its spec alone.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from harbench.contracts import HarbenchError
from harbench.settings import Settings, setting

ENV = "HARBENCH_ARTIFACTS"
FOLDER = "artifacts"  # beside the store: <results>/artifacts/<run_id>/


@dataclass
class ArtifactSettings(Settings):
    """What each run of a suite keeps beside the store (nothing by default)."""

    owner: ClassVar[str] = "artifacts"

    adapter: bool = setting(False, "the adapter in peft's format (peft methods only)")
    merged: bool = setting(False, "the merged/fused model as safetensors with its rebuild JSON")
    onnx: bool = setting(False, "the merged model as ONNX, timed in onnxruntime at batch 1")

    @property
    def any(self) -> bool:
        return self.adapter or self.merged or self.onnx

    @classmethod
    def everything(cls) -> ArtifactSettings:
        """What ``--save-artifacts`` asks for."""
        return cls(adapter=True, merged=True, onnx=True)


def root_for(db_path: str | Path) -> Path:
    """The artefacts folder of the store at ``db_path``."""
    return Path(db_path).resolve().parent / FOLDER


def folder_for(db_path: str | Path, run_id: str) -> Path:
    """Where run ``run_id``'s artefacts are kept."""
    return root_for(db_path) / run_id


@dataclass(frozen=True)
class Request:
    """The artefacts asked for, and the folder that holds one sub-folder per run."""

    settings: ArtifactSettings
    root: Path

    def to_env(self) -> str:
        return json.dumps({"root": str(self.root), **self.settings.to_dict()})


def current() -> Request | None:
    """The request of the suite this process runs for (None: keep nothing)."""
    text = os.environ.get(ENV)
    if not text:
        return None
    try:
        data = json.loads(text)
        root = Path(data.pop("root"))
        settings = ArtifactSettings.from_dict(data)
    except (ValueError, KeyError, TypeError, HarbenchError) as exc:
        raise HarbenchError(f"{ENV} is not a valid artefact request ({exc}): {text[:200]}"
                            ) from None
    return Request(settings, root) if settings.any else None


@contextlib.contextmanager
def requested(settings: ArtifactSettings | None, db_path: str | Path) -> Iterator[None]:
    """``HARBENCH_ARTIFACTS`` set for the block when ``settings`` asks for anything."""
    if settings is None or not settings.any:
        yield
        return
    saved = os.environ.get(ENV)
    os.environ[ENV] = Request(settings, root_for(db_path)).to_env()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = saved


def combine(suite_block: Mapping[str, Any] | None, save_all: bool) -> ArtifactSettings | None:
    """The suite's block, or everything when the command line says ``--save-artifacts``."""
    if save_all:
        return ArtifactSettings.everything()
    if not suite_block:
        return None
    return ArtifactSettings.from_dict(suite_block)
