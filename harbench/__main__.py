"""``python -m harbench``."""

from harbench.cli import entry

entry()
