"""Built-in adaptation methods, registered through the ``harbench`` entry-point group.

Each method is a room of its own: a module (``full.py``) or, when it needs more than one file, a
package (``lora_edge/`` with ``tt_conv.py``, ``qlora/`` with ``nf4.py``, ``adalora/`` with
``steps.py``) holding its typed parameter record, the method, its torch code and a README-sized
docstring. A room registers itself with one line, ``PLUGINS = (MyMethod,)``: the hook below walks
this package and registers what every room lists, so adding a method is adding a folder.

Rooms declare their methods without importing torch, peft, bitsandbytes or tensorly; the code
that needs them is imported inside the methods when they run. Modules whose name starts with an
underscore are shared helpers, not rooms: ``_base`` (base class, layer support, freezing),
``_targets`` (target resolution, imports torch) and ``_peft`` (the flow of peft-backed methods).
"""

import importlib
import pkgutil

from harbench.hookspecs import hookimpl


def rooms() -> list:
    """The plugin modules and packages of this package, in name order (helpers left out)."""
    return [
        importlib.import_module(f"{__name__}.{room.name}")
        for room in sorted(pkgutil.iter_modules(__path__), key=lambda room: room.name)
        if not room.name.startswith("_")
    ]


@hookimpl
def harbench_register_methods(register):
    for room in rooms():
        for plugin in getattr(room, "PLUGINS", ()):
            register(plugin())
