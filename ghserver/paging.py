"""GitHub's pagination: `per_page` (30 by default, at most 100), `page`, and the Link header."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar
from urllib.parse import urlencode

T = TypeVar("T")
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def paginate(items: Sequence[T], args: Mapping[str, str], url: str) -> tuple[list[T], str | None]:
    """The requested page of `items` and the Link header (None when everything fits one page)."""
    per_page = min(max(_int(args.get("per_page"), DEFAULT_PER_PAGE), 1), MAX_PER_PAGE)
    page = max(_int(args.get("page"), 1), 1)
    last = max((len(items) + per_page - 1) // per_page, 1)
    chunk = list(items[(page - 1) * per_page : page * per_page])
    if last == 1:
        return chunk, None

    def link(number: int, rel: str) -> str:
        query = {**{k: v for k, v in args.items() if k != "page"}, "page": str(number)}
        return f'<{url}?{urlencode(query)}>; rel="{rel}"'

    rels = []
    if page > 1:
        rels.append(link(min(page - 1, last), "prev"))
    if page < last:
        rels += [link(page + 1, "next"), link(last, "last")]
    if page > 1:
        rels.append(link(1, "first"))
    return chunk, ", ".join(rels)
