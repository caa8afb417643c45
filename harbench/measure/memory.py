"""Memory of adapting a model: parameter shares, adapter and weight bytes, training peak.

Three views of training memory:

- ``training_memory_breakdown``: an analytic account — weights (every parameter and buffer, a
  4-bit weight counted as 4-bit), gradients (trainable parameters only), optimiser state (AdamW:
  two fp32 tensors per trainable parameter) and activations (every distinct tensor storage
  autograd saves during one training-mode forward pass at the given batch, the model's own
  parameters and buffers excluded; the input batch counts when a layer saves it).
- ``peak_rss_of``: the peak resident set size of a function run in a fresh spawned process (CPU),
  with the child's resident size after its imports as the baseline.
- ``cuda_peak_memory``: ``torch.cuda.max_memory_allocated`` around a function, plus the
  process's memory as NVML reports it (GPU only).
- ``training_peak`` (CPU, every run, around the training phase alone, after data and model are
  loaded): ``train_peak_heap_mb``, the peak of the C heap's bytes in use (glibc's own count,
  which sees torch's CPU tensors) over its value at the start of training (``HeapPeak``): what
  training itself allocates (gradients, optimiser state, activations, batches), not imports or
  loading order; the leaderboard's memory column. Beside it ``train_peak_rss_mb``, the RSS
  high-water mark of the phase over its start less mapped files (``TrainingPeak``): what the OS
  gave, which also depends on which freed pages the heap kept, so it varies more run to run.

A quantised weight is recognised by duck typing: a parameter with a ``quant_state`` (as
bitsandbytes' ``Params4bit`` has) counts its packed storage plus every tensor its quantisation
state holds (absmax, code, offset, and those of a nested state), each storage once.
"""

from __future__ import annotations

import ctypes
import importlib
import io
import multiprocessing
import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from harbench.contracts import HarbenchError
from harbench.measure.counting import parameter_counts

ADAMW_STATES = 2  # exp_avg and exp_avg_sq
FP32_BYTES = 4
_QUANT_STATE_DEPTH = 3


# ---- parameters and bytes ---------------------------------------------------------------------


def _storage_key(t: torch.Tensor) -> tuple[int, int]:
    storage = t.untyped_storage()
    return storage.data_ptr(), storage.nbytes()


def parameter_summary(model: nn.Module, *, reference_params: int | None = None) -> dict[str, Any]:
    """{"trainable", "total", "share"}; ``share`` is trainable / ``reference_params`` if given
    (e.g. the backbone's size before adapters were added), else trainable / total."""
    total, trainable = parameter_counts(model)
    denominator = reference_params if reference_params else total
    return {"trainable": trainable, "total": total, "share": trainable / max(1, denominator)}


def _tensors_in(obj: Any, depth: int) -> Iterable[torch.Tensor]:
    """Every tensor an object (a quantisation state) holds, down to a few nested levels."""
    if isinstance(obj, torch.Tensor):
        yield obj
    elif depth <= 0 or obj is None or isinstance(obj, (str, bytes, int, float, bool)):
        return
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _tensors_in(value, depth - 1)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _tensors_in(value, depth - 1)
    elif hasattr(obj, "__dict__"):
        for value in vars(obj).values():
            yield from _tensors_in(value, depth - 1)


def _bytes_of(tensors: Iterable[torch.Tensor], seen: set[tuple[int, int]]) -> int:
    """Bytes of each tensor's elements, each (storage, size) counted once across calls."""
    total = 0
    for t in tensors:
        key = (t.data_ptr(), t.numel() * t.element_size())
        if key in seen:
            continue
        seen.add(key)
        total += t.numel() * t.element_size()
    return total


def weight_bytes(
    params: Iterable[torch.Tensor], seen: set[tuple[int, int]] | None = None
) -> int:
    """Bytes of parameters as stored: packed quantised data plus its quantisation state."""
    seen = set() if seen is None else seen
    total = 0
    for p in params:
        total += _bytes_of([p], seen)
        quant_state = getattr(p, "quant_state", None)
        if quant_state is not None:
            total += _bytes_of(_tensors_in(quant_state, _QUANT_STATE_DEPTH), seen)
    return total


def frozen_weight_bytes(model: nn.Module) -> int:
    """Bytes of memory the parameters that do not train hold (the one definition in harbench).

    Each distinct tensor storage counts once (shared parameters, tied weights). A plain
    parameter counts ``numel * element_size``. A quantised one (bitsandbytes ``Params4bit``)
    counts its packed data (4 bits per weight) plus every tensor its quantisation state holds:
    the per-block scales (uint8 with double quantisation), their float32 scales and offset, and
    the code tables that bitsandbytes keeps per layer (16 float32 NF4 levels; the 256-entry
    dynamic map of double quantisation): they are allocated per layer, so they are memory the
    frozen weights take. Buffers (BatchNorm statistics) are not weights and are not counted.
    """
    return weight_bytes(p for p in model.parameters() if not p.requires_grad)


def adapter_bytes(state: dict[str, Any]) -> int:
    """Size on disk of an adapter state dict serialised with ``torch.save``; 0 for an empty
    state (a method that changes nothing ships nothing)."""
    if not state:
        return 0
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() if isinstance(v, torch.Tensor) else v
                for k, v in state.items()}, buffer)
    return buffer.getbuffer().nbytes


# ---- analytic training memory -----------------------------------------------------------------


def activation_bytes(model: nn.Module, example: torch.Tensor, *, bn_frozen: bool = False) -> int:
    """Bytes autograd saves for backward during one training-mode forward pass on ``example``.

    Counts each distinct storage once and leaves out the model's parameters and buffers. The
    model's BatchNorm statistics and training flag are restored afterwards.
    """
    own = {_storage_key(t) for t in list(model.parameters()) + list(model.buffers())}
    saved: dict[tuple[int, int], int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        key = _storage_key(t)
        if key not in own:
            saved[key] = key[1]
        return t

    was_training = model.training
    buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
    model.train()
    if bn_frozen:
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()
    try:
        with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            model(example)
    finally:
        with torch.no_grad():
            for name, b in model.named_buffers():
                b.copy_(buffers[name])
        model.train(was_training)
    return sum(saved.values())


def training_memory_breakdown(
    model: nn.Module,
    example: torch.Tensor,
    *,
    bn_frozen: bool = False,
    optimiser_states: int = ADAMW_STATES,
    optimiser_state_bytes: int = FP32_BYTES,
) -> dict[str, int]:
    """Analytic training memory for one step on the batch ``example``, in bytes.

    {"weights", "frozen_weights", "gradients", "optimiser", "activations", "total"}: weights are
    every parameter and buffer; gradients and optimiser state are for trainable parameters only
    (``optimiser_states`` tensors of ``optimiser_state_bytes`` per element; AdamW keeps two).
    """
    params = list(dict.fromkeys(model.parameters()))
    trainable = [p for p in params if p.requires_grad]
    seen: set[tuple[int, int]] = set()
    weights = weight_bytes(params, seen) + _bytes_of(model.buffers(), seen)
    gradients = sum(p.numel() * p.element_size() for p in trainable)
    optimiser = sum(p.numel() for p in trainable) * optimiser_states * optimiser_state_bytes
    activations = activation_bytes(model, example, bn_frozen=bn_frozen)
    return {
        "weights": weights,
        "frozen_weights": frozen_weight_bytes(model),
        "gradients": gradients,
        "optimiser": optimiser,
        "activations": activations,
        "total": weights + gradients + optimiser + activations,
    }


# ---- measured peaks ---------------------------------------------------------------------------


@dataclass
class PeakMemory:
    """What a measured run returned and the memory it took.

    ``kind`` is "cpu_rss" (peak resident set size of a child process; ``baseline_bytes`` is its
    resident size after start-up and imports, just before the function ran) or "cuda" (peak
    allocated by torch on the device; ``baseline_bytes`` is what was allocated before the
    function ran).
    """

    result: Any
    peak_bytes: int
    baseline_bytes: int
    kind: str
    nvml_process_bytes: int | None = None

    @property
    def extra_bytes(self) -> int:
        """Memory the function itself added at its peak."""
        return max(0, self.peak_bytes - self.baseline_bytes)


# the mark as it stood when a phase measure (TrainingPeak) lowered it: peak_rss_bytes() still
# reports the peak since the last reset_peak_rss(), whatever a phase measure did in between
_PEAK_BEFORE_PHASE = {"bytes": 0}


def peak_rss_bytes() -> int:
    """Peak RSS of this process since the last :func:`reset_peak_rss`: VmHWM on Linux, else
    ``ru_maxrss`` (a phase measure lowering the mark in between does not hide an earlier peak).

    On Linux ``ru_maxrss`` is not used: after the spawn's fork + exec it still carries the peak
    of the forked copy of the parent, whereas VmHWM belongs to the new address space alone.
    """
    return max(_kernel_peak_rss(), _PEAK_BEFORE_PHASE["bytes"])


def _kernel_peak_rss() -> int:
    """The kernel's peak-RSS mark as it stands (VmHWM), else ``ru_maxrss``."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024  # Linux reports KiB


def reset_peak_rss() -> None:
    """Lower the peak-RSS mark to the current RSS where the OS allows it (Linux >= 4.0)."""
    _PEAK_BEFORE_PHASE["bytes"] = 0
    _clear_peak_mark()


def _clear_peak_mark() -> None:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
    except OSError:
        pass


def current_rss_bytes() -> int | None:
    """This process's resident set size now (VmRSS, Linux); None where it cannot be read."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _rss_parts() -> dict[str, int] | None:
    """{"VmRSS", "RssFile"} of this process in bytes (Linux); None where unreadable."""
    out: dict[str, int] = {}
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                key = line.split(":", 1)[0]
                if key in ("VmRSS", "RssFile"):
                    out[key] = int(line.split()[1]) * 1024
    except OSError:
        return None
    return out if len(out) == 2 else None


def trim_heap() -> None:
    """Hand freed heap pages back to the OS (glibc ``malloc_trim``); nothing elsewhere.

    Without it, memory freed earlier in the process (loading, an earlier run) is reused silently
    and a phase's RSS growth depends on what ran before it, not on the phase.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl): nothing to trim
        pass


@dataclass
class TrainingPeak:
    """RSS high-water mark of one phase (training) over the RSS at its start, on the CPU.

    ``start()`` trims the heap, lowers the kernel's high-water mark to the current RSS and reads
    that as the baseline; ``stop()`` reads the mark. Where the mark cannot be lowered (not Linux,
    or /proc/self/clear_refs not writable) the measure is None rather than a number that would
    carry the process's earlier peak.
    """

    baseline_bytes: int | None = None
    peak_bytes: int | None = None
    # a lowered mark sits within a few pages of the current RSS; more means it was not lowered
    _RESET_SLACK = 4 * 2**20

    @classmethod
    def start(cls) -> TrainingPeak:
        trim_heap()
        _PEAK_BEFORE_PHASE["bytes"] = peak_rss_bytes()  # the run's peak so far stays reported
        _clear_peak_mark()
        now = _rss_parts()
        if now is None or _kernel_peak_rss() > now["VmRSS"] + cls._RESET_SLACK:
            return cls()
        return cls(baseline_bytes=now["VmRSS"] - now["RssFile"])

    def stop(self) -> TrainingPeak:
        now = _rss_parts()
        if self.baseline_bytes is not None and now is not None:
            # the mark less the mapped files (library code paged in on first use of a kernel,
            # the window cache): anonymous memory, what the run itself allocated
            self.peak_bytes = _kernel_peak_rss() - now["RssFile"]
        return self

    @property
    def extra_bytes(self) -> int | None:
        """Bytes the phase added at its peak; None when it could not be measured."""
        if self.baseline_bytes is None or self.peak_bytes is None:
            return None
        return max(0, self.peak_bytes - self.baseline_bytes)

    def metrics(self) -> dict[str, float]:
        """{"train_peak_rss_mb": ...} when measured, else nothing."""
        extra = self.extra_bytes
        return {} if extra is None else {"train_peak_rss_mb": extra / 2**20}


class _MallInfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (glibc >= 2.33): every field a size_t."""

    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _heap_reader() -> Callable[[], int] | None:
    """A function returning the C heap's bytes in use (glibc ``mallinfo2``: allocated chunks
    plus mmapped blocks); None where glibc's ``mallinfo2`` is absent (musl, macOS, old glibc)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return None
    function.restype = _MallInfo2

    def in_use() -> int:
        info = function()
        return int(info.uordblks + info.hblkhd)

    return in_use


class HeapPeak:
    """Peak of the C heap's bytes in use during a phase over its value at the start, on the CPU.

    torch's CPU tensors are allocated with ``posix_memalign``, so glibc's own count of bytes in
    use (``mallinfo2``) sees them, unlike tracemalloc, and unlike the RSS it does not depend on
    which freed pages the heap happened to keep or return. The count is a point in time, so a
    daemon thread samples it every ``interval`` seconds (each read takes about 10 us: about 1% of
    one core at 1 ms); a peak shorter than the interval can be missed, and training repeats its
    peak every step, so the maximum over a phase of many steps is steady.
    """

    def __init__(self, interval: float = 0.001) -> None:
        self.interval = interval
        self._read = _heap_reader()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.baseline_bytes: int | None = None
        self.peak_bytes: int | None = None

    def start(self) -> HeapPeak:
        if self._read is None:
            return self
        self.baseline_bytes = self.peak_bytes = self._read()
        self._thread = threading.Thread(target=self._sample, name="harbench-heap-peak",
                                        daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        read = self._read
        while not self._stop.wait(self.interval):
            value = read()
            if value > self.peak_bytes:
                self.peak_bytes = value

    def stop(self) -> HeapPeak:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            self.peak_bytes = max(self.peak_bytes, self._read())
        return self

    extra_bytes = TrainingPeak.extra_bytes  # the same rule: peak over baseline, None unmeasured


@contextmanager
def training_peak(enabled: bool = True) -> Iterator[dict[str, float]]:
    """Measure the enclosed training phase on the CPU; the yielded dict is filled on exit with
    ``train_peak_heap_mb`` (HeapPeak) and ``train_peak_rss_mb`` (TrainingPeak) where measurable.
    The sampling thread stops even when training raises."""
    out: dict[str, float] = {}
    if not enabled:
        yield out
        return
    rss = TrainingPeak.start()
    heap = HeapPeak().start()
    try:
        yield out
    finally:
        heap.stop()
        rss.stop()
        out.update(rss.metrics())
        if heap.extra_bytes is not None:
            out["train_peak_heap_mb"] = heap.extra_bytes / 2**20


def _child_main(
    conn, fn: Callable[..., Any], args: tuple, kwargs: dict, preload: tuple[str, ...]
) -> None:
    for module in preload:
        importlib.import_module(module)
    reset_peak_rss()
    baseline = peak_rss_bytes()
    try:
        result = fn(*args, **kwargs)
        conn.send(("ok", result, baseline, peak_rss_bytes()))
    except BaseException as error:  # reported to the parent, which raises it
        conn.send(("error", f"{type(error).__name__}: {error}\n{traceback.format_exc()}", 0, 0))
    finally:
        conn.close()


def peak_rss_of(
    fn: Callable[..., Any], *args: Any, preload: Iterable[str] = (), **kwargs: Any
) -> PeakMemory:
    """Run ``fn(*args, **kwargs)`` in a freshly spawned process; its result and peak RSS.

    ``fn``, its arguments and its result must be picklable (``fn`` defined at module level). In
    the child, after start-up, unpickling and importing the ``preload`` modules (name those
    ``fn`` imports lazily, such as "peft", so their import is not counted), the peak-RSS mark is
    reset to the current RSS (Linux) and read as ``baseline_bytes``; ``peak_bytes`` is the mark
    after ``fn`` returned.
    """
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_child_main, args=(sender, fn, args, kwargs, tuple(preload)), daemon=True
    )
    process.start()
    sender.close()
    try:
        status, payload, baseline, peak = receiver.recv()
    except EOFError:
        process.join()
        raise RuntimeError(
            f"measured process {process.pid} died (exit code {process.exitcode}) before reporting"
        ) from None
    finally:
        receiver.close()
    process.join()
    if status != "ok":
        raise RuntimeError(f"measured function failed in its child process: {payload}")
    return PeakMemory(payload, peak, baseline, "cpu_rss")


def _nvml_process_bytes(device: torch.device) -> int | None:
    """GPU memory NVML attributes to this process (CUDA context included); None if unavailable."""
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            index = device.index if device.index is not None else torch.cuda.current_device()
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            for proc in pynvml.nvmlDeviceGetComputeRunningProcesses(handle):
                if proc.pid == os.getpid() and proc.usedGpuMemory is not None:
                    return int(proc.usedGpuMemory)
            return None
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # NVML missing, no permission, or in a container without process info
        return None


def cuda_peak_memory(
    fn: Callable[..., Any], *args: Any, device: str | torch.device | None = None, **kwargs: Any
) -> PeakMemory:
    """Run ``fn`` in this process; peak bytes torch allocated on the CUDA device meanwhile."""
    if not torch.cuda.is_available():
        raise HarbenchError("cuda_peak_memory needs a CUDA device; none is available here")
    device = torch.device(device or "cuda")
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    baseline = torch.cuda.memory_allocated(device)
    result = fn(*args, **kwargs)
    torch.cuda.synchronize(device)
    peak = torch.cuda.max_memory_allocated(device)
    return PeakMemory(result, peak, baseline, "cuda", _nvml_process_bytes(device))


def peak_training_memory(
    fn: Callable[..., Any], *args: Any, device: str = "auto", preload: Iterable[str] = (),
    **kwargs: Any,
) -> PeakMemory:
    """``cuda_peak_memory`` on a GPU, ``peak_rss_of`` (a spawned child process) on the CPU."""
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        for module in preload:
            importlib.import_module(module)
        return cuda_peak_memory(fn, *args, **kwargs)
    return peak_rss_of(fn, *args, preload=preload, **kwargs)
