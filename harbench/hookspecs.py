"""The plugin contract: the hooks a harbench plugin may implement.

Each hook receives a ``register`` callable. A plugin calls it once per thing it provides, passing
an instance of the matching base class from :mod:`harbench.contracts`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("harbench")
hookimpl = pluggy.HookimplMarker("harbench")

Register = Callable[[Any], None]


@hookspec
def harbench_register_datasets(register: Register) -> None:
    """Register datasets: ``register(DatasetPlugin())`` for each."""


@hookspec
def harbench_register_models(register: Register) -> None:
    """Register backbones: ``register(ModelPlugin())`` for each."""


@hookspec
def harbench_register_methods(register: Register) -> None:
    """Register adaptation methods: ``register(MethodPlugin())`` for each."""


@hookspec
def harbench_register_executors(register: Register) -> None:
    """Register executors that map runs over processes or machines: ``register(Executor())``."""


@hookspec
def harbench_register_protocols(register: Register) -> None:
    """Register evaluation protocols (windows -> folds): ``register(ProtocolPlugin())`` for each."""
