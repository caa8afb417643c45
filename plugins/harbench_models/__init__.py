"""Built-in backbones, registered through the ``harbench`` entry-point group.

Each backbone is a room of its own: a package (``tinierhar/``, ``mae/``, ...) whose
``__init__.py`` holds the typed parameter record, the plugin and a README-sized docstring, and
whose ``net.py`` holds the torch network, imported when the backbone is built. A room registers
itself with one line, ``PLUGINS = (MyModel,)``: the hook below walks this package and registers
what every room lists, so adding a backbone is adding a folder. ``_kernels`` (the exact fast
kernels several networks share) is a helper, not a room.
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
def harbench_register_models(register):
    for room in rooms():
        for plugin in getattr(room, "PLUGINS", ()):
            register(plugin())
