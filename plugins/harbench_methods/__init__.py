"""Built-in methods plugins, registered through the ``harbench`` entry-point group.

Each module lists what it provides in ``PLUGINS``; add a module to ``MODULES`` to ship it.
"""

from harbench.hookspecs import hookimpl
from harbench_methods import full, linear_probe, lora

MODULES = (full, linear_probe, lora,)


@hookimpl
def harbench_register_methods(register):
    for module in MODULES:
        for plugin in module.PLUGINS:
            register(plugin())
