"""Built-in models plugins, registered through the ``harbench`` entry-point group.

Each module lists what it provides in ``PLUGINS``; add a module to ``MODULES`` to ship it.
"""

from harbench.hookspecs import hookimpl
from harbench_models import convnets, deepconvlstm, mae, tinierhar, tinyhar

MODULES = (tinierhar, tinyhar, deepconvlstm, convnets, mae)


@hookimpl
def harbench_register_models(register):
    for module in MODULES:
        for plugin in module.PLUGINS:
            register(plugin())
