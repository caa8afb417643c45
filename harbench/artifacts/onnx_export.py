"""The merged model as ONNX: exported with ``torch.onnx``, checked against PyTorch, timed in
onnxruntime the way an edge deployment runs it (one CPU thread, batch 1).

Export: opset ``OPSET``; input ``windows`` float32 [batch, time, channels], output ``logits``
[batch, classes]; the batch axis is dynamic, time and channels are fixed by the run. The
TorchScript-based exporter (``dynamo=False``) is tried first because it is fast; its graph is
kept only when onnxruntime reproduces PyTorch's logits at batch 1 *and* at a larger batch (a
trace can bake a batch size into a reshape). Otherwise the ``torch.export``-based
exporter (``dynamo=True``, needs ``onnxscript``) is used. Which one made the file is recorded.
A model neither exporter can write is reported with both errors; the run itself stays ``ok``.

Latency: ``onnxruntime.InferenceSession`` with intra- and inter-op threads set to 1, sequential
execution, full graph optimisation, CPU provider; ``warmup`` untimed calls, then ``repeats``
timed calls of one window; median and 95th percentile in milliseconds.
"""

from __future__ import annotations

import statistics
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from harbench.contracts import HarbenchError

OPSET = 18
INPUT, OUTPUT = "windows", "logits"
DYNAMIC_AXES = {INPUT: {0: "batch"}, OUTPUT: {0: "batch"}}
TOLERANCE = 1e-4  # max |ONNX - PyTorch| logit difference accepted
CHECK_BATCH = 16


@dataclass
class Exported:
    """An ONNX file that reproduces the PyTorch model, and how it was made."""

    path: Path
    exporter: str  # "torchscript" or "dynamo"
    max_abs_diff: float
    opset: int = OPSET
    notes: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {"file": self.path.name, "exporter": self.exporter, "opset": self.opset,
                "input": INPUT, "output": OUTPUT, "dynamic_axes": {"windows": "0=batch",
                                                                   "logits": "0=batch"},
                "max_abs_diff": self.max_abs_diff, "bytes": self.path.stat().st_size,
                "notes": self.notes}


def session(path: str | Path, threads: int = 1):
    """An onnxruntime CPU session on ``threads`` threads (sequential execution)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = threads
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 4  # a failing check is reported by export(), not logged
    return ort.InferenceSession(str(path), sess_options=options,
                                providers=["CPUExecutionProvider"])


def onnx_logits(path: str | Path, X: torch.Tensor) -> np.ndarray:
    """Logits of the ONNX model for windows ``X`` [N, T, C] (one call per window and one for
    the whole batch must agree; the batch result is returned)."""
    return session(path).run([OUTPUT], {INPUT: X.detach().cpu().numpy().astype(np.float32)})[0]


def _difference(path: Path, model: nn.Module, X: torch.Tensor) -> float:
    """Largest |ONNX - PyTorch| logit difference at batch 1 and at batch ``len(X)``."""
    sess = session(path)
    with torch.no_grad():
        reference = model(X).float().numpy()
    feed = X.numpy().astype(np.float32)
    whole = sess.run([OUTPUT], {INPUT: feed})[0]
    single = sess.run([OUTPUT], {INPUT: feed[:1]})[0]
    if whole.shape != reference.shape or single.shape != reference[:1].shape:
        return float("inf")
    return float(max(np.abs(whole - reference).max(), np.abs(single - reference[:1]).max()))


def _torchscript(model: nn.Module, example: torch.Tensor, path: Path) -> None:
    """The trace-based exporter, run with a no-op global forward hook: a network that replaces
    its children's calls by hand-written kernels only while no hook is installed (the built-in
    backbones' fast CPU paths) then calls its plain modules, whose ONNX operators are standard
    and whose shapes follow the batch (a hand-written path can bake the traced batch size in)."""
    from torch.nn.modules.module import register_module_forward_hook

    hook = register_module_forward_hook(lambda module, inputs, output: None)
    try:
        torch.onnx.export(model, (example,), str(path), input_names=[INPUT],
                          output_names=[OUTPUT], opset_version=OPSET, dynamic_axes=DYNAMIC_AXES,
                          dynamo=False)
    finally:
        hook.remove()


def _dynamo(model: nn.Module, example: torch.Tensor, path: Path) -> None:
    batch = torch.export.Dim("batch", min=1, max=65536)
    program = torch.onnx.export(model, (example,), None, input_names=[INPUT],
                                output_names=[OUTPUT], opset_version=OPSET, dynamo=True,
                                dynamic_shapes=({0: batch},), verbose=False)
    program.save(str(path))


EXPORTERS = (("torchscript", _torchscript), ("dynamo", _dynamo))


def export(model: nn.Module, X: torch.Tensor, path: str | Path) -> Exported:
    """Write ``model`` (CPU, eval) to ``path`` as ONNX and check it on windows ``X``.

    Raises HarbenchError naming each exporter's failure when no file reproduces the logits
    within ``TOLERANCE``.
    """
    path = Path(path)
    model = model.eval()
    check = X[:CHECK_BATCH].detach().cpu().float()
    if len(check) < 2:
        check = torch.cat([check, check]) if len(check) else check
    if len(check) == 0:
        raise HarbenchError("ONNX export needs at least one window to check against")
    example = check[:2]
    failures = []
    for name, exporter in EXPORTERS:
        try:
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                exporter(model, example, path)
            diff = _difference(path, model, check)
        except Exception as exc:  # each exporter fails in its own way; both are reported
            failures.append(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
            continue
        if diff <= TOLERANCE:
            return Exported(path, name, diff, notes=failures)
        failures.append(f"{name}: logits differ from PyTorch's by {diff:.3g} (> {TOLERANCE})")
    path.unlink(missing_ok=True)
    raise HarbenchError("cannot export to ONNX: " + "; ".join(failures))


def latency(path: str | Path, window: int, channels: int, *, repeats: int = 200,
            warmup: int = 20, seed: int = 0) -> dict[str, float]:
    """Median and p95 milliseconds of one batch-1 call in onnxruntime on one CPU thread."""
    if repeats < 1 or warmup < 0:
        raise HarbenchError(f"latency needs repeats >= 1 and warmup >= 0, got {repeats}, {warmup}")
    sess = session(path, threads=1)
    x = np.random.default_rng(seed).standard_normal((1, window, channels)).astype(np.float32)
    feed = {INPUT: x}
    for _ in range(warmup):
        sess.run([OUTPUT], feed)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        sess.run([OUTPUT], feed)
        times.append(time.perf_counter() - start)
    ms = np.asarray(times) * 1000
    return {"median_ms": float(statistics.median(ms)), "p95_ms": float(np.percentile(ms, 95)),
            "repeats": float(repeats), "warmup": float(warmup)}
