"""What a plugin provides: the base classes of datasets, models, methods, protocols, executors.

The core only ever sees these types, obtained from the registry. A plugin subclasses one of them
(or duck-types it) and hands an instance to the ``register`` callable of its hook.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # annotations only: importing the contract must stay light (CLI start-up)
    import numpy as np


# The plugin API this harbench implements. 2: models and methods declare parameters as a typed
# record (``params = MyParams``, a ``harbench.settings.PluginParams`` dataclass) and receive a
# resolved instance (``build(..., params=record)``, ``adapt(model, info, params)``). Plugins of
# API 1 (``defaults``/``params`` dicts, ``**params``) and of API 0 (``adapt(model, **params)``
# reading ``model.harbench_head``) still run for this version, with a DeprecationWarning naming
# the change (harbench.blocks); docs/plugins.md "Changes" lists every rename.
PLUGIN_API = 2


class HarbenchError(Exception):
    """An error caused by the user's input: shown as one paragraph, exit code 2, no traceback."""


@dataclass(frozen=True)
class Channel:
    """One sensor channel of a dataset."""

    name: str
    sensor: str = ""  # "acc", "gyro", "mag", "ecg", ...
    position: str = ""  # body position, e.g. "waist", "wrist"
    unit: str = ""  # "g", "m/s^2", "rad/s", "deg/s", ...


@dataclass
class Recording:
    """One continuous recording: windows are cut inside it, never across two.

    ``signals`` is float32 [T, C] at the dataset's ``rate_hz``; ``labels`` is int64 [T]
    holding a class index 0..K-1, or -1 for samples that are unlabelled or dropped by the
    dataset's convention.
    """

    subject: int
    signals: np.ndarray
    labels: np.ndarray
    name: str = ""


class DatasetPlugin:
    """A public HAR dataset: facts about it, and a loader for its published on-disk layout.

    ``root`` passed to the methods is this dataset's own folder (``<data root>/<name>``).
    """

    name: ClassVar[str]
    title: ClassVar[str] = ""
    channels: ClassVar[tuple[Channel, ...]] = ()
    rate_hz: ClassVar[float]  # rate of the recordings ``load`` returns (after any resampling)
    native_rate_hz: ClassVar[float | None] = None  # rate of the published files, if different
    subjects: ClassVar[tuple[int, ...]] = ()
    classes: ClassVar[tuple[str, ...]] = ()
    label_codes: ClassVar[tuple[Any, ...]] = ()  # the published code of each class, same order
    window_s: ClassVar[float] = 4.0
    step_s: ClassVar[float] = 2.0
    protocol: ClassVar[dict[str, Any]] = {"name": "loso"}
    # the published train/test split, if any: {"name": "fixed", "test_subjects": [...]}
    official_split: ClassVar[dict[str, Any] | None] = None
    citation: ClassVar[str] = ""
    licence: ClassVar[str] = ""
    source_url: ClassVar[str] = ""
    archive_urls: ClassVar[tuple[str, ...]] = ()
    sha256: ClassVar[dict[str, str]] = {}  # archive file name -> sha256, where known
    loader_version: ClassVar[str] = "1"  # bump when load() changes: invalidates cached windows
    embedded: ClassVar[bool] = False  # ships with an installed package; no root needed
    # where the recordings come from: datasets with the same non-empty tag share recordings
    # (e.g. "uci-hapt-2012" on uci, hapt and hapt_embedded), so LODO must not mix them
    recordings_from: ClassVar[str] = ""

    def is_present(self, root: Path) -> bool:
        """Whether the raw files are on disk under ``root``."""
        return root.is_dir() and any(root.iterdir())

    def load(self, root: Path, subjects: Iterable[int] | None = None) -> list[Recording]:
        """Parse the raw files under ``root`` into recordings.

        ``subjects``: read only these subjects' files (None: every subject). A file that one of
        the asked subjects needs and that is missing is an error naming it.
        """
        raise HarbenchError(f"dataset {self.name!r} has no loader")

    def files(self, root: Path, subjects: Iterable[int] | None = None) -> list[Path]:
        """The raw files ``load(root, subjects)`` reads, sorted (for fingerprints and verify).

        Default: every file under ``root``. Built-in loaders list exactly the files they need,
        including ones that are missing, so that a caller can report them.
        """
        if not root.is_dir():
            return []
        return sorted(p for p in root.rglob("*") if p.is_file())

    def fetch_instructions(self, root: Path) -> str:
        """How a user gets the raw files into ``root``."""
        urls = "\n  ".join(self.archive_urls) or self.source_url
        return f"Download {self.title or self.name} from\n  {urls}\nand extract it into {root}"

    def describe(self) -> dict[str, Any]:
        """A flat summary for listings and the store."""
        return {
            "name": self.name,
            "title": self.title,
            "channels": len(self.channels),
            "rate_hz": self.rate_hz,
            "subjects": len(self.subjects),
            "classes": len(self.classes),
            "window_s": self.window_s,
            "step_s": self.step_s,
            "protocol": self.protocol.get("name", ""),
        }


class ModelPlugin(ABC):
    """A backbone. ``build`` returns an ``nn.Module`` mapping float32 [B, T, C] to logits [B, K].

    ``head`` names the final classifier submodule (linear probing trains it alone);
    ``targets`` maps a layer family ("linear", "conv", "attention") to the module-name suffixes an
    adapter of that family wraps by default.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    version: ClassVar[str] = "1"  # bump when what build() computes changes: invalidates stored runs
    # the typed parameter record (a harbench.settings.PluginParams dataclass); API 1: a dict
    params: ClassVar[Any] = None
    defaults: ClassVar[dict[str, Any]] = {}  # API 1; derived from ``params`` under API 2
    head: ClassVar[str] = "head"
    targets: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _derive_defaults(cls)

    @abstractmethod
    def build(self, *, channels: int, window: int, classes: int, params: Any):
        """Build a freshly initialised model; ``params`` is the resolved record (API 2)."""


@dataclass(frozen=True)
class ModelInfo:
    """What a built backbone is: attached by ``harbench.api.build_model``, read with
    ``harbench.api.model_info(module)``, and passed to every method's ``adapt``.

    ``head``: name of the classifier submodule (never adapted, always trained). ``targets``:
    layer family ("linear", "conv", "attention", ...) -> module-name suffixes an adapter of that
    family wraps. ``channels``, ``window``, ``classes``: the input [B, window, channels] and the
    number of logits. ``params``: the model's resolved parameters.
    """

    name: str
    head: str = "head"
    targets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    channels: int = 0
    window: int = 0
    classes: int = 0
    params: dict[str, Any] = field(default_factory=dict)

    def family(self, name: str) -> tuple[str, ...]:
        """The module-name suffixes of target family ``name`` (empty when not declared)."""
        return tuple(self.targets.get(name, ()))


BN_POLICIES = ("update", "frozen")


@dataclass(frozen=True)
class AdaptedInfo:
    """How a model was adapted: attached by ``harbench.api.adapt``, read with
    ``harbench.api.adapted_info(module)``.

    ``params``: the method's parameters as resolved (defaults filled, derived values such as
    LoRA's ``alpha = 2 * r`` computed). ``bn_policy``: "update" (BatchNorm running statistics
    follow the training data) or "frozen" (kept as built or pre-trained), as used for training.
    """

    method: str
    params: dict[str, Any]
    bn_policy: str
    model: ModelInfo


INFO_ATTRIBUTE = "harbench_info"  # the one attribute harbench sets on a module it built/adapted


def model_info(module: Any) -> ModelInfo:
    """The :class:`ModelInfo` of a module built by ``harbench.api.build_model`` (or adapted)."""
    info = getattr(module, INFO_ATTRIBUTE, None)
    if isinstance(info, AdaptedInfo):
        return info.model
    if isinstance(info, ModelInfo):
        return info
    raise HarbenchError(
        f"{type(module).__name__} carries no harbench model record: build it with "
        "harbench.build_model(name, channels=..., window=..., classes=...), or attach one with "
        "harbench.api.attach_info(module, ModelInfo(name=..., head=...))"
    )


def adapted_info(module: Any) -> AdaptedInfo:
    """The :class:`AdaptedInfo` of a module returned by ``harbench.api.adapt``."""
    info = getattr(module, INFO_ATTRIBUTE, None)
    if isinstance(info, AdaptedInfo):
        return info
    raise HarbenchError(
        f"{type(module).__name__} carries no harbench adaptation record: adapt it with "
        "harbench.adapt(model, method, ...) first"
    )


def _derive_defaults(cls: type) -> None:
    """``defaults`` of a plugin class declaring a typed record (API 2): read from the record."""
    declared = cls.__dict__.get("params")
    declared = declared if declared is not None else getattr(cls, "params", None)
    defaults_of_record = getattr(declared, "defaults", None)
    if isinstance(declared, type) and callable(defaults_of_record):
        cls.defaults = defaults_of_record()


class MethodPlugin(ABC):
    """An adaptation method: turns a built (pre-trained) model into one whose chosen parts train.

    ``bn_policy`` is the method's own BatchNorm policy: "update" (running statistics follow the
    training data) or "frozen" (kept in eval mode, the statistics of the pre-trained model). A
    run uses it only when its training setting ``bn_policy`` is "method"; by default every method
    trains with "update".
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    version: ClassVar[str] = "1"  # bump when what adapt()/merge() compute changes
    # the typed parameter record (a harbench.settings.PluginParams dataclass); API 1: a dict
    params: ClassVar[Any] = None
    defaults: ClassVar[dict[str, Any]] = {}  # API 1; derived from ``params`` under API 2
    bn_policy: ClassVar[str] = "frozen"
    # False: the method takes no gradient step and leaves no parameter trainable (``none``,
    # ``adabn``); the run trains no epoch and its BatchNorm policy is the method's own
    trains: ClassVar[bool] = True
    # target families this method can adapt ("conv", "linear", ...): it needs at least one of them
    # among the backbone's ``targets`` (checked at validate); empty = any backbone
    needs: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _derive_defaults(cls)

    @abstractmethod
    def adapt(self, model, info: ModelInfo, params: Any):
        """Return the model prepared for training (frozen, wrapped, quantised, decomposed).

        ``info`` describes the backbone (its head and target families); ``params`` is the
        resolved record: every field checked, derived values (``PluginParams.derived``) filled.
        """

    def derive_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """API 1: fill parameters whose default depends on others. Under API 2 the record's
        ``derived()`` does it; this returns ``params`` unchanged."""
        return params

    def merge(self, model):
        """Return the deployable model (adapters merged or fused). Default: unchanged."""
        return model

    def calibrate(self, model, windows: Any) -> None:
        """What the method does with the adaptation windows besides gradient steps, before
        training: ``windows`` are the run's training part alone (float32 [N, T, C], normalised;
        never a validation or test window). A method that leaves no parameter trainable (``none``,
        ``adabn``) is evaluated after this step with no training epoch. Default: nothing."""
        return None

    def adapter_state(self, model) -> dict[str, Any]:
        """The trainable state alone (what a user would ship as the adapter)."""
        return {k: v.detach().clone() for k, v in model.named_parameters() if v.requires_grad}

    def load_adapter_state(self, model, state: dict[str, Any]) -> None:
        """Load what ``adapter_state`` returned into an adapted model."""
        missing = set(state) - {k for k, _ in model.named_parameters()}
        if missing:
            raise HarbenchError(f"adapter state names unknown parameters: {sorted(missing)[:5]}")
        model.load_state_dict(state, strict=False)


class Executor(ABC):
    """Runs a pure function over run specs, yielding (spec, result) pairs as they complete.

    ``session`` is the contract: it starts what the engine needs (worker processes, a cluster)
    for one suite and yields a :class:`MapSession` whose ``map`` runs the specs; the coordinator
    maps each phase of its plan through that one session. ``map`` is a convenience derived from
    it (a session for one call). ``params`` declares the engine's own settings in a suite's
    ``executor:`` block (``harbench.settings.Param`` values by name; ``name`` and ``workers``
    are every executor's); ``session`` receives them all resolved as ``settings``.

    An executor written for the previous contract, which overrides ``map`` only, still works:
    its session calls its ``map``.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    params: ClassVar[dict[str, Any]] = {}

    @contextlib.contextmanager
    def session(
        self,
        *,
        workers: int = 1,
        events: Callable[[Any], None] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Iterator[MapSession]:
        """Hold what the engine starts across the ``map`` calls of one suite; release it all on
        leaving the block. Yields a :class:`MapSession` (a subclass whose ``map`` runs specs).

        The session's ``map(fn, specs)`` calls ``fn`` on every spec and yields ``(spec,
        fn(spec))`` in completion order. With ``events``, it calls ``fn(spec, emit)`` instead:
        ``emit(event)`` in the worker delivers ``event`` (a picklable dataclass of
        ``harbench.events``) to ``events`` in the caller's process and thread, during the
        iteration. When ``fn`` could not run to completion (a worker process died), it yields
        ``(spec, exc)`` with the exception instead: the coordinator stores that run as failed.
        """
        if type(self).map is Executor.map:
            raise TypeError(
                f"executor {getattr(self, 'name', type(self).__name__)!r} implements neither "
                "session() (the contract) nor map()"
            )
        yield MapSession(self, workers, events, settings)  # the previous contract: map only

    def map(
        self,
        fn: Callable[..., Any],
        specs: Iterable[Any],
        *,
        workers: int = 1,
        events: Callable[[Any], None] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Iterator[tuple[Any, Any]]:
        """``fn`` over ``specs`` in a session opened for this call alone (see ``session``)."""
        with self.session(workers=workers, events=events, settings=settings) as running:
            yield from running.map(fn, specs)


@dataclass
class MapSession:
    """An executor bound to one suite's workers, events and settings (``Executor.session``).

    An engine's session subclasses it and overrides ``map``; this default serves an executor
    of the previous contract (one that overrides ``Executor.map`` alone) by calling its ``map``.
    """

    executor: Any
    workers: int = 1
    events: Callable[[Any], None] | None = None
    settings: dict[str, Any] | None = None

    def map(self, fn: Callable[..., Any], specs: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        """Yield ``(spec, fn(spec))`` (or ``fn(spec, emit)``) as runs complete."""
        return self.executor.map(fn, specs, workers=self.workers, events=self.events,
                                 settings=self.settings)


@dataclass(frozen=True)
class Fold:
    """One fold of a protocol: window indices that train and that test.

    ``source`` (subject adaptation only): the windows of the source subjects, the only data a
    supervised pretraining stage of this fold may use; None when the protocol has no source part.
    ``min_per_class``: the validation carved out of ``train`` leaves every class at least this
    many training windows (never taking a class's only windows). ``notes``: what the protocol
    says about the fold, stored in the run's details (e.g. classes it could not split).
    ``held_out`` (subject adaptation only): windows of source subjects kept out of ``source``
    (no pretraining or normalisation sees them), on which forgetting is measured; None or empty
    when the protocol holds none out.
    """

    name: str
    train: np.ndarray
    test: np.ndarray
    source: np.ndarray | None = None
    min_per_class: int = 1
    notes: dict[str, Any] = field(default_factory=dict)
    held_out: np.ndarray | None = None


class ProtocolPlugin(ABC):
    """An evaluation protocol: how a dataset's windows split into folds of train and test.

    ``params`` declares the protocol's settings (``harbench.settings.Param`` values by name).
    ``bind`` checks them against a dataset and fills in what the dataset decides (e.g. its
    official test subjects) before any run; ``folds`` then cuts the windows.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    version: ClassVar[str] = "1"  # bump when the folds folds() makes change
    params: ClassVar[dict[str, Any]] = {}
    # True when every fold folds() makes has a non-empty ``source`` part: a pretraining stage
    # then trains on windows no run seed shapes, so a stage with its own seed is shared by the
    # run seeds. False (default): the stage trains on the run's training part, whose validation
    # carve follows the run's seed, so each run seed has its own stage.
    source_part: ClassVar[bool] = False

    def bind(self, dataset: DatasetPlugin, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` completed for ``dataset``; raise HarbenchError when they cannot apply."""
        return dict(params)

    @abstractmethod
    def fold_count(self, dataset: DatasetPlugin, params: dict[str, Any]) -> int:
        """How many folds ``folds`` makes for ``dataset`` (with its bound ``params``)."""

    @abstractmethod
    def folds(self, windows: Any, params: dict[str, Any]) -> list[Fold]:
        """Every fold of ``windows`` (a ``harbench.data.windows.Windows``), in a stable order."""

    # ---- the suite-level questions (a protocol across datasets answers them; see lodo) --------

    def pools(self, held_out: str, datasets: Sequence[str], params: dict[str, Any]) -> list[str]:
        """The datasets a pretraining stage pools while ``held_out`` is tested.

        ``datasets`` are the suite's matrix datasets in order (one name per entry); every one of
        them is held out in turn, its folds made by ``fold_count``/``folds``. ``params``: the
        suite's protocol block, defaults filled (not bound to a dataset). Default: ``[]``, the stage
        trains on the run's own source data (or on the datasets the stage lists itself).
        """
        return []

    def check_suite(self, datasets: Sequence[str], pretraining: bool,
                    params: dict[str, Any]) -> None:
        """Refuse, with a HarbenchError naming what to change, a suite this protocol cannot run
        (``datasets``: the matrix's dataset names; ``pretraining``: whether the suite has a
        pretraining stage; ``params`` as for ``pools``). Called by ``validate``, before any run.
        A ``ParamError`` whose path names a parameter is located at that key. Default: none."""
        return None


@dataclass
class Registration:
    """What one plugin registered, for ``harbench plugins``."""

    plugin: str
    distribution: str
    version: str
    items: dict[str, list[str]] = field(default_factory=dict)
