"""The order of a case's history as the law reads it (pure).

Kept apart from the legal record so that readers of a history (the API, the case page) need
not import the machinery that derives it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

_Item = TypeVar("_Item", bound=Mapping[str, Any])


def legal_order(items: Iterable[_Item]) -> list[_Item]:
    """History items (as JSON) in legal order.

    By legal date `on`; on one day, acts before what the engine derived from them; then in the
    order they were recorded (`seq`). The one ordering of the API's history and the case page's
    timeline.
    """
    return sorted(items, key=lambda i: (i["on"], bool(i.get("derived")), i["seq"]))
