"""``harbench new-plugin NAME``: write a plugin package skeleton that passes harbench.testing.

The skeleton is rendered from the example plugin (``examples/harbench-plugin-example``, the one
copy): its files with the example's names replaced by the new plugin's. The package registers
one dataset (a CSV file), one backbone and one adaptation method through the ``harbench``
entry-point group, and ships tests that call :mod:`harbench.testing`.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from harbench.contracts import HarbenchError

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "harbench-plugin-example"
EXAMPLE_PACKAGE = "harbench_example"
# the files of the example that make the skeleton (paths relative to EXAMPLE)
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
    if not EXAMPLE.is_dir():
        raise HarbenchError(
            f"the example plugin {EXAMPLE} is missing: `harbench new-plugin` renders from it, so "
            "run it from a harbench source checkout (pip install -e .)"
        )
    written = []
    for rel in FILES:
        path = dest / render(rel, slug)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render((EXAMPLE / rel).read_text(), slug))
        written.append(path)
    return written
