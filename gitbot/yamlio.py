"""YAML in and out: documents with line numbers, strict errors, and Kubernetes-style dumps.

This is the only module that imports PyYAML. Loading keeps, for every value, the line it was
written on, so validation can point at `file:line`. Dumping writes YAML the way Kubernetes'
`sigs.k8s.io/yaml` (go-yaml v2) does, so files gitbot writes look like the ones Kratix writes.
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from gitbot.errors import InvalidObjects, Problem

try:  # libyaml: faster, and its emitter is the one go-yaml was ported from
    from yaml import CSafeDumper as _BaseDumper
    from yaml import CSafeLoader as _Loader

    _LIBYAML = True
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeDumper as _BaseDumper  # type: ignore[assignment]
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

    _LIBYAML = False

_TAG = "tag:yaml.org,2002:"
_STR, _NULL, _BOOL = _TAG + "str", _TAG + "null", _TAG + "bool"
_INT, _FLOAT, _TIMESTAMP, _MERGE = _TAG + "int", _TAG + "float", _TAG + "timestamp", _TAG + "merge"

# Values built from one document, aliases expanded; a bound against "billion laughs" documents.
MAX_VALUES = 1_000_000

Path = Sequence[str | int]


@dataclass(frozen=True)
class _Pos:
    """Where one value was written: its line, its children's positions, its scalar text."""

    line: int
    children: dict[str, _Pos] | list[_Pos] | None = None
    text: str | None = None


@dataclass(frozen=True)
class YamlDocument:
    """One YAML document: plain data (dict/list/str/int/float/bool/None) and where it came from."""

    data: Any
    file: str
    line: int
    _pos: _Pos = field(default=_Pos(1), repr=False, compare=False)

    def _walk(self, path: Path) -> Iterator[_Pos]:
        pos = self._pos
        yield pos
        for step in path:
            children = pos.children
            found: _Pos | None = None
            if isinstance(children, dict) and isinstance(step, str):
                found = children.get(step)
            elif isinstance(children, list) and isinstance(step, int) and 0 <= step < len(children):
                found = children[step]
            if found is None:
                return
            pos = found
            yield pos

    def line_of(self, path: Path) -> int:
        """1-based line of the value at `path`, or of its deepest existing ancestor."""
        line = self.line
        for depth, pos in enumerate(self._walk(path)):
            line = pos.line if depth else line
        return line

    def part(self, path: Path) -> YamlDocument:
        """The value at `path` as a document of its own, keeping the lines it was written at."""
        found = list(self._walk(path))
        if len(found) != len(path) + 1:
            raise KeyError(format_path(path))
        data = self.data
        for step in path:
            data = data[step]
        return YamlDocument(data, self.file, found[-1].line, found[-1])

    def scalar_text(self, path: Path) -> str | None:
        """The scalar at `path` as written (without quotes), or None if there is none."""
        found = list(self._walk(path))
        return found[-1].text if len(found) == len(path) + 1 else None


def load_file(path: str | os.PathLike[str]) -> list[YamlDocument]:
    """Every non-empty document of a file; problems raise InvalidObjects naming the file."""
    name = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise InvalidObjects([Problem(name, 1, "", f"cannot read file: {exc.strerror}")]) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        message = f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        raise InvalidObjects([Problem(name, line, "", message)]) from exc
    return load_text(text, name)


def load_text(text: str, file: str) -> list[YamlDocument]:
    """Every non-empty document of `text`; `file` names it in errors."""
    loader = _Loader(text)
    docs: list[YamlDocument] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            data, pos = _Builder(loader, file).build(node, ())
            if data is not None:
                docs.append(YamlDocument(data, file, node.start_mark.line + 1, pos))
    except yaml.MarkedYAMLError as exc:
        raise InvalidObjects([_syntax_problem(exc, file)]) from exc
    except yaml.reader.ReaderError as exc:
        line = _line_at(text, exc.position)
        message = f"invalid YAML: unacceptable character #x{exc.character:04x}"
        raise InvalidObjects([Problem(file, line, "", message)]) from exc
    except RecursionError as exc:
        raise InvalidObjects([Problem(file, 1, "", "invalid YAML: nested too deeply")]) from exc
    finally:
        loader.dispose()
    return docs


def _line_at(text: str, position: int) -> int:
    if _LIBYAML:  # libyaml counts bytes of the UTF-8 text, PyYAML's reader counts characters
        return text.encode("utf-8")[:position].count(b"\n") + 1
    return text[:position].count("\n") + 1


def safe_load(text: str, file: str) -> Any:
    """One small document (e.g. a pipeline's metadata file); None when empty."""
    docs = load_text(text, file)
    if len(docs) > 1:
        message = f"expected one YAML document, found {len(docs)}"
        raise InvalidObjects([Problem(file, docs[1].line, "", message)])
    return docs[0].data if docs else None


def _syntax_problem(exc: yaml.MarkedYAMLError, file: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 1
    problem = exc.problem or "syntax error"
    if "maximum nesting depth" in problem:  # PyYAML >= 6.0.4 limits nesting itself
        return Problem(file, line, "", "invalid YAML: nested too deeply")
    if exc.context and exc.context_mark is not None:
        problem = f"{problem} ({exc.context} at line {exc.context_mark.line + 1})"
    return Problem(file, line, "", f"invalid YAML: {problem}")


class _Builder:
    """Turns composed nodes into plain data and positions, rejecting duplicate keys."""

    def __init__(self, loader: _Loader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.count = 0
        self.active: set[int] = set()

    def fail(self, node: Node, path: Path, message: str) -> InvalidObjects:
        return InvalidObjects(
            [Problem(self.file, node.start_mark.line + 1, format_path(path), message)]
        )

    def build(self, node: Node, path: Path) -> tuple[Any, _Pos]:
        self.count += 1
        if self.count > MAX_VALUES:
            raise self.fail(node, path, f"document has more than {MAX_VALUES} values")
        if id(node) in self.active:
            raise self.fail(node, path, "recursive alias")
        self.active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            if isinstance(node, SequenceNode):
                return self._sequence(node, path)
            assert isinstance(node, ScalarNode)
            return self._scalar(node, path), _Pos(node.start_mark.line + 1, text=node.value)
        finally:
            self.active.discard(id(node))

    def _sequence(self, node: SequenceNode, path: Path) -> tuple[list[Any], _Pos]:
        items = [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        return [d for d, _ in items], _Pos(node.start_mark.line + 1, [p for _, p in items])

    def _mapping(self, node: MappingNode, path: Path) -> tuple[dict[str, Any], _Pos]:
        data: dict[str, Any] = {}
        positions: dict[str, _Pos] = {}
        merged: list[tuple[str, Any, _Pos]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged.extend(self._merge(value_node, path))
                continue
            key = self._key(key_node, path)
            if key in data:
                raise self.fail(key_node, path, f"duplicate key '{key}'")
            value, pos = self.build(value_node, (*path, key))
            data[key] = value
            positions[key] = _Pos(key_node.start_mark.line + 1, pos.children, pos.text)
        for key, value, pos in merged:
            if key not in data:
                data[key], positions[key] = value, pos
        return data, _Pos(node.start_mark.line + 1, positions)

    def _merge(self, node: Node, path: Path) -> list[tuple[str, Any, _Pos]]:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        merged: list[tuple[str, Any, _Pos]] = []
        for source in sources:
            if not isinstance(source, MappingNode):
                raise self.fail(source, path, "a merge key ('<<') needs a mapping")
            data, pos = self.build(source, path)
            assert isinstance(pos.children, dict)
            merged.extend((k, v, pos.children[k]) for k, v in data.items())
        return merged

    def _key(self, node: Node, path: Path) -> str:
        if not isinstance(node, ScalarNode):
            raise self.fail(node, path, "a mapping key must be a string, not a collection")
        key = self._scalar(node, path)
        # Kubernetes converts YAML to JSON, where every key is a string.
        return key if isinstance(key, str) else _plain_text(key)

    def _scalar(self, node: ScalarNode, path: Path) -> Any:
        tag, value = node.tag, node.value
        resolve: Callable[[type[Node], str, tuple[bool, bool]], str] = self.loader.resolve
        if not node.style and tag == resolve(ScalarNode, value, (True, False)):
            # Plain and untagged: read it as go-yaml v2 (Kubernetes) does, not as YAML 1.1 does
            # ("y" is a boolean, "1:30" a string, "1e3" a number).
            tag = go_resolve(value)
        if tag in _TEXT_TAGS:
            return value  # timestamps stay strings, as they are in JSON
        if tag == _NULL:
            return None
        if tag == _BOOL:
            return value.lower() in ("y", "yes", "true", "on")
        try:
            if tag == _INT:
                return _go_int(value)
            if tag == _FLOAT:
                return _go_float(value)
        except ValueError:
            raise self.fail(node, path, f"invalid {tag[len(_TAG) :]} '{value}'") from None
        return self.loader.construct_object(node)


_TEXT_TAGS = {_STR, _TIMESTAMP, _MERGE, _TAG + "value", _TAG + "binary"}
_SPECIAL_FLOATS = {".nan": math.nan, ".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf}


def _go_int(text: str) -> int:
    plain = text.replace("_", "")
    sign, digits = (plain[0], plain[1:]) if plain[:1] in ("+", "-") else ("", plain)
    base = {"0x": 16, "0X": 16, "0o": 8, "0O": 8, "0b": 2, "0B": 2}.get(digits[:2])
    if base is not None:
        digits = digits[2:]
    elif digits.startswith("0") and len(digits) > 1:
        base = 8
    value = int(digits, base or 10)
    return -value if sign == "-" else value


def _go_float(text: str) -> float:
    special = _SPECIAL_FLOATS.get(text.lower())
    return special if special is not None else float(text.replace("_", ""))


def format_path(path: Path) -> str:
    """A key path as a breadcrumb: `spec.containers[1].image`, `labels["kratix.io/paused"]`."""
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        elif _PLAIN_KEY.fullmatch(step):
            out += f".{step}" if out else step
        else:
            out += '["' + step.replace("\\", "\\\\").replace('"', '\\"') + '"]'
    return out


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _plain_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float_g(value)
    return str(value)


# --- dumping ---------------------------------------------------------------------------------


def dump_sorted(obj: Any) -> str:
    """YAML as sigs.k8s.io/yaml writes it: sorted keys, block style, 2-space indent."""
    text = yaml.dump(
        obj,
        Dumper=_GoDumper,
        default_flow_style=False,
        sort_keys=False,
        allow_unicode=True,
        indent=2,
        width=80,
    )
    return text[: -len("...\n")] if text.endswith("\n...\n") else text


def dump_all(docs: Sequence[Any]) -> str:
    """Several documents separated by `---`, as go-yaml's Encoder writes them."""
    return "---\n".join(dump_sorted(doc) for doc in docs)


class _GoDumper(_BaseDumper):
    """A dumper whose quoting and number formats follow go-yaml v2."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def resolve(self, kind: type[Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return go_resolve(value) if implicit[0] else _STR
        return _TAG + ("seq" if kind is SequenceNode else "map")


def _represent_mapping(dumper: _GoDumper, data: Mapping[Any, Any]) -> Node:
    items = [(k if isinstance(k, str) else _plain_text(k), v) for k, v in data.items()]
    items.sort(key=lambda item: _GO_KEY_ORDER(item[0]))
    return dumper.represent_mapping(_TAG + "map", items)


def _represent_str(dumper: _GoDumper, data: str) -> Node:
    if "\n" in data:
        style: str | None = "|"
    elif go_resolve(data) != _STR or _BASE60.match(data):
        style = '"'
    else:
        style = None
    return dumper.represent_scalar(_STR, data, style=style)


def _represent_float(dumper: _GoDumper, data: float) -> Node:
    # Kubernetes goes through JSON, where 1.0 is written (and read back) as the integer 1.
    if math.isfinite(data) and data == int(data) and abs(data) < 1e21:
        return dumper.represent_scalar(_INT, str(int(data)))
    return dumper.represent_scalar(_FLOAT, _go_float_g(data))


def _represent_tuple(dumper: _GoDumper, data: tuple[Any, ...]) -> Node:
    return dumper.represent_list(list(data))


_GoDumper.add_representer(str, _represent_str)
_GoDumper.add_representer(float, _represent_float)
_GoDumper.add_representer(tuple, _represent_tuple)
_GoDumper.add_representer(dict, _represent_mapping)
_GoDumper.add_multi_representer(Mapping, _represent_mapping)  # type: ignore[type-abstract]


# go-yaml v2's resolve(): which tag a plain scalar would get when read back.
_RESOLVE_MAP = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE"), _BOOL),
    **dict.fromkeys(("on", "On", "ON", "n", "N", "no", "No", "NO"), _BOOL),
    **dict.fromkeys(("false", "False", "FALSE", "off", "Off", "OFF"), _BOOL),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), _NULL),
    **dict.fromkeys((".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF"), _FLOAT),
    **dict.fromkeys(("+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF"), _FLOAT),
    "<<": _MERGE,
}
_HINTED = set("+-0123456789yYnNtTfFoO~.")
_DOT_FLOAT = re.compile(r"\.[0-9]+(?:[eE][-+]?[0-9]+)?")
_GO_INT = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_YAML_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_BASE60 = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?\Z")
_TIMESTAMP_RE = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:(?:[Tt]\d{1,2}:\d{1,2}:\d{1,2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))"
    r"|(?: \d{1,2}:\d{1,2}:\d{1,2}(?:\.\d+)?))?"
)


def go_resolve(text: str) -> str:
    """The tag go-yaml v2 gives `text` written as a plain scalar (str, int, float, bool...)."""
    if text in _RESOLVE_MAP:
        return _RESOLVE_MAP[text]
    if text[0] not in _HINTED:
        return _STR
    if text[0] == ".":
        return _FLOAT if _DOT_FLOAT.fullmatch(text) else _STR
    if text[0] not in "+-0123456789":
        return _STR
    if _is_timestamp(text):
        return _TIMESTAMP
    plain = text.replace("_", "")
    if _GO_INT.fullmatch(plain) or re.fullmatch(r"-0[bB][01]+", plain):
        return _INT
    if _YAML_FLOAT.fullmatch(plain) and math.isfinite(float(plain)):
        return _FLOAT
    return _STR


def _is_timestamp(text: str) -> bool:
    match = _TIMESTAMP_RE.fullmatch(text)
    if match is None:
        return False
    year, month, day = (int(g) for g in match.groups())
    if not 1 <= month <= 12:
        return False
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    return 1 <= day <= days


def _go_key_cmp(a: str, b: str) -> int:
    """go-yaml v2's map key order: letters by code point, digit runs by value."""
    if a == b:
        return 0
    return -1 if _go_key_less(a, b) else 1


_GO_KEY_ORDER = functools.cmp_to_key(_go_key_cmp)


def _go_key_less(a: str, b: str) -> bool:
    for i in range(min(len(a), len(b))):
        if a[i] == b[i]:
            continue
        al, bl = a[i].isalpha(), b[i].isalpha()
        if al and bl:
            return a[i] < b[i]
        if al or bl:
            return bl
        an = bn = 0
        if a[i] == "0" or b[i] == "0":
            j = i - 1
            while j >= 0 and a[j].isdecimal():
                if a[j] != "0":
                    an = bn = 1
                    break
                j -= 1
        ai = i
        while ai < len(a) and a[ai].isdecimal():
            an = an * 10 + ord(a[ai]) - 48
            ai += 1
        bi = i
        while bi < len(b) and b[bi].isdecimal():
            bn = bn * 10 + ord(b[bi]) - 48
            bi += 1
        if an != bn:
            return an < bn
        if ai != bi:
            return ai < bi
        return a[i] < b[i]
    return len(a) < len(b)


def _go_float_g(value: float) -> str:
    """strconv.FormatFloat(value, 'g', -1, 64), with YAML's names for infinities and NaN."""
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    dec = Decimal(repr(value)).normalize()
    exponent = dec.adjusted()
    if dec.is_zero() or -4 <= exponent < 6:
        return format(dec, "f")
    sign, digits, _ = dec.as_tuple()
    mantissa = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
    return f"{'-' if sign else ''}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
