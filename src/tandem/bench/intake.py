"""placeholder"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def run(*, postgres_url: str | None, quick: bool, log: Callable[[str], None]) -> dict[str, Any]:
    raise NotImplementedError
