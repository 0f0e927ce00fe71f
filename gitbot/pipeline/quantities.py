"""Kubernetes resource quantities (`100m`, `0.5`, `128Mi`, `1G`) as numbers."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_SUFFIXES = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}
_QUANTITY_RE = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|[mkMGTPE]?)$")


def parse_quantity(value: object) -> Decimal:
    """The value of a Kubernetes quantity; ValueError with the offending text otherwise."""
    text = str(value).strip()
    match = _QUANTITY_RE.match(text)
    if not match:
        raise ValueError(f"'{text}' is not a Kubernetes quantity (e.g. 100m, 0.5, 128Mi)")
    try:
        number = Decimal(match.group(1))
    except InvalidOperation as e:
        raise ValueError(f"'{text}' is not a Kubernetes quantity (e.g. 100m, 0.5, 128Mi)") from e
    if number < 0:
        raise ValueError(f"'{text}' must not be negative")
    return number * _SUFFIXES[match.group(2)]


def nano_cpus(value: object) -> int:
    """A CPU quantity as the engine's NanoCpus."""
    return int(parse_quantity(value) * Decimal(10) ** 9)


def memory_bytes(value: object) -> int:
    """A memory quantity in bytes."""
    return int(parse_quantity(value))
