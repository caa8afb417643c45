"""Built-in dataset plugins, registered through the ``harbench`` entry-point group.

Each module lists what it provides in ``PLUGINS``; add a module to ``MODULES`` to ship it.
"""

from harbench.hookspecs import hookimpl
from harbench_datasets import (
    dg,
    dsads,
    hapt,
    hapt_embedded,
    hhar,
    mhealth,
    motionsense,
    oppo,
    pamap2,
    recgym,
    rw,
    sho,
    skodar,
    synthetic,
    uci,
    uschad,
    wisdm,
)

MODULES = (
    dg, dsads, hapt, hapt_embedded, hhar, mhealth, motionsense, oppo, pamap2, recgym, rw, sho,
    skodar, synthetic, uci, uschad, wisdm,
)


@hookimpl
def harbench_register_datasets(register):
    for module in MODULES:
        for plugin in module.PLUGINS:
            register(plugin())
