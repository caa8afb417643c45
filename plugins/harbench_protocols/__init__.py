"""Built-in evaluation protocols, registered through the ``harbench`` entry point ``protocols``.

One module per protocol: ``loso``, ``subject_groups``, ``fixed`` (a dataset's official split),
``window_kfold``, ``lodo`` (leave one dataset out, with an inner protocol on the held-out one) and
``subject_adaptation`` (a model from the other subjects adapted to one target subject).
"""

from __future__ import annotations

from harbench.hookspecs import hookimpl

from .fixed import Fixed
from .lodo import Lodo
from .loso import Loso
from .subject_adaptation import SubjectAdaptation
from .subject_groups import SubjectGroups
from .window_kfold import WindowKFold

PROTOCOLS = (Loso, SubjectGroups, Fixed, WindowKFold, Lodo, SubjectAdaptation)


@hookimpl
def harbench_register_protocols(register) -> None:
    for protocol in PROTOCOLS:
        register(protocol())
