"""``harbench new-plugin NAME``: write a plugin package skeleton that passes harbench.testing.

The skeleton is rendered from the example plugin (``harbench/plugin_example/``, the one copy,
shipped in harbench's wheel (pyproject's ``[tool.setuptools]`` tables) so that an installed
harbench renders it too; it is a template, registered nowhere): its files with the example's
names replaced by the new plugin's.
The package registers one dataset (a CSV file), one backbone and one adaptation method through
the ``harbench`` entry-point group, and ships tests that call :mod:`harbench.testing`.
"""

from __future__ import annotations

import keyword
import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from harbench.contracts import HarbenchError

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

EXAMPLE_FOLDER = "plugin_example"  # a folder of the harbench package
EXAMPLE_PACKAGE = "harbench_example"
# the files of the example that make the skeleton (paths relative to example())
FILES = (
    "pyproject.toml",
    "README.md",
    f"{EXAMPLE_PACKAGE}/__init__.py",
    f"{EXAMPLE_PACKAGE}/dataset.py",
    f"{EXAMPLE_PACKAGE}/model.py",
    f"{EXAMPLE_PACKAGE}/network.py",
    f"{EXAMPLE_PACKAGE}/method.py",
    "tests/test_plugin.py",
)


def example() -> Traversable:
    """The example plugin's folder: in the source tree, or in the installed package."""
    return resources.files("harbench") / EXAMPLE_FOLDER


def renames(slug: str) -> list[tuple[str, str]]:
    """The example's names and what they become for plugin ``slug``, longest first."""
    name = slug.title().replace("_", "")
    return [
        ("harbench-plugin-example", f"harbench-{slug}"),
        (EXAMPLE_PACKAGE, f"harbench_{slug}"),
        ('"last_n"', f'"{slug}_last_n"'),
        ("`last_n`", f"`{slug}_last_n`"),
        ("example_csv", f"{slug}_csv"),
        ("example_net", f"{slug}_net"),
        ("harbench plugin example", f"harbench plugin {slug}"),
        ("example = ", f"{slug} = "),
        ("lists example", f"lists {slug}"),
        ("Example", name),
    ]


def render(text: str, slug: str) -> str:
    """One file of the example rendered for plugin ``slug``."""
    for old, new in renames(slug):
        text = text.replace(old, new)
    return text


def package_name(name: str) -> str:
    """``my-plugin`` -> ``harbench_my_plugin``; refuses names that are not identifiers."""
    slug = re.sub(r"[-\s]+", "_", name.strip().lower())
    if not re.fullmatch(r"[a-z][a-z0-9_]*", slug) or keyword.iskeyword(slug):
        raise HarbenchError(
            f"plugin name {name!r}: use letters, digits, '-' or '_', starting with a letter"
        )
    return slug


def write_plugin(name: str, dest: Path) -> list[Path]:
    """Write the skeleton for plugin ``name`` into ``dest`` (which must not exist or be empty)."""
    slug = package_name(name)
    if dest.exists() and any(dest.iterdir()):
        raise HarbenchError(f"{dest} exists and is not empty: choose another folder (-o)")
    source = example()
    missing = [rel for rel in FILES if not _file(source, rel).is_file()]
    if missing:
        raise HarbenchError(
            f"the example plugin in {source} lacks {', '.join(missing)}: this harbench install is "
            "incomplete (reinstall it); `harbench new-plugin` renders from those files"
        )
    written = []
    for rel in FILES:
        path = dest / render(rel, slug)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(_file(source, rel).read_text(encoding="utf-8"), slug),
                        encoding="utf-8")
        written.append(path)
    return written


def _file(folder: Traversable, rel: str) -> Traversable:
    return folder.joinpath(*rel.split("/"))
