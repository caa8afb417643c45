"""Reading untrusted YAML safely: YAML 1.2 scalars, no duplicate keys, bounded aliases.

PyYAML implements YAML 1.1, where ``1e-3`` is a string, ``no`` is false and ``010`` is octal.
:func:`load` reads with the YAML 1.2 core schema instead, refuses a mapping that repeats a key
(naming both lines), refuses more than :data:`MAX_ALIASES` alias uses or a document that would
expand past :data:`MAX_NODES` nodes (an "alias bomb"), and returns every key path's line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

MAX_ALIASES = 100  # alias uses (*name) in one document
MAX_NODES = 200_000  # nodes of the document once every alias is expanded
MAX_CHARS = 2_000_000  # characters of the document
MAX_DEPTH = 50  # nested mappings/lists (a suite needs fewer than 10)

KeyPath = tuple[str, ...]


class YamlError(Exception):
    """A document that cannot be read; ``line`` (1-based) and ``path`` say where, when known."""

    def __init__(self, message: str, line: int | None = None, path: KeyPath = ()):
        super().__init__(message)
        self.line = line
        self.path = path


# YAML 1.2 core schema: https://yaml.org/spec/1.2.2/#1032-tag-resolution
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_MERGE = re.compile(r"^<<$")


class _Loader(yaml.SafeLoader):
    """SafeLoader with the YAML 1.2 core schema's resolvers and an alias counter."""

    yaml_implicit_resolvers: dict[str, list] = {}

    def __init__(self, stream: str):
        super().__init__(stream)
        self.aliases = 0
        self.depth = 0

    def compose_node(self, parent, index):  # noqa: ANN001 - PyYAML's signature
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise YamlError(f"nesting deeper than {MAX_DEPTH} levels is refused", mark.line + 1)
            return self._compose_counted(parent, index)
        finally:
            self.depth -= 1

    def _compose_counted(self, parent, index):  # noqa: ANN001 - PyYAML's signature
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise YamlError(
                    f"more than {MAX_ALIASES} alias uses (*name): refused as a possible alias bomb",
                    mark.line + 1,
                )
        return super().compose_node(parent, index)


for _tag, _regex, _first in (
    ("tag:yaml.org,2002:bool", _BOOL, "tTfF"),
    ("tag:yaml.org,2002:int", _INT, "-+0123456789"),
    ("tag:yaml.org,2002:float", _FLOAT, "-+0123456789."),
    ("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:merge", _MERGE, "<"),
):
    _Loader.add_implicit_resolver(_tag, _regex, list(_first))


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int:
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


def _construct_bool(loader: _Loader, node: yaml.ScalarNode) -> bool:
    return loader.construct_scalar(node).lower() == "true"


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)


@dataclass
class Document:
    """A parsed document and the 1-based line of every key path (keys and indices as text)."""

    data: Any
    lines: dict[KeyPath, int]


def load(text: str) -> Document:
    """Parse ``text`` (one YAML document) under the rules of this module.

    Raises :class:`YamlError` for malformed YAML, duplicate keys, too many aliases or a document
    that expands past the size limit; never executes tags (safe loader).
    """
    if len(text) > MAX_CHARS:
        raise YamlError(f"the document has {len(text)} characters; the limit is {MAX_CHARS}")
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Document(None, {})
        size = _expanded_size(node, {})
        if size > MAX_NODES:
            raise YamlError(
                f"the document expands to more than {MAX_NODES} nodes through its aliases "
                "(a possible alias bomb)",
                node.start_mark.line + 1,
            )
        lines: dict[KeyPath, int] = {}
        _walk(node, (), lines)
        data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlError(f"malformed YAML: {problem}", mark.line + 1 if mark else None) from None
    finally:
        loader.dispose()
    return Document(data, lines)


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """Nodes of ``node`` once every alias is expanded (shared nodes counted at each use)."""
    key = id(node)
    if key in memo:
        if memo[key] < 0:  # reached again while being counted
            raise YamlError(
                "an alias refers to a node that contains it (a recursive document)",
                node.start_mark.line + 1,
            )
        return memo[key]
    memo[key] = -1
    total = 1
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            total += _expanded_size(k, memo) + _expanded_size(v, memo)
            if total > MAX_NODES:
                break
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            total += _expanded_size(item, memo)
            if total > MAX_NODES:
                break
    memo[key] = total
    return total


def _walk(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int]) -> None:
    """Record each key path's line; refuse a mapping that repeats a key."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` merges into this path
                merged = value_node.value if isinstance(value_node, yaml.SequenceNode) else [
                    value_node
                ]
                for item in merged:
                    _walk(item, path, lines)
                continue
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else repr(key_node)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise YamlError(
                    f"duplicate key {key!r} (first at line {seen[key]}, again at line {line}): "
                    "YAML keeps only one of them; remove or rename one",
                    line,
                    path + (key,),
                )
            seen[key] = line
            lines[path + (key,)] = line
            _walk(value_node, path + (key,), lines)
            lines[path + (key,)] = line
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (str(i),), lines)
