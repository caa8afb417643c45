"""Dataset loader (being written)."""

PLUGINS = ()
