"""One object of a kind for each Herald, made at its first use: the live machinery (the hub,
the quotas, the persisted documents) that the Herald runtime does not hold itself."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar
from weakref import WeakKeyDictionary

from app.runtime import Herald

T = TypeVar("T")


def per_herald(make: Callable[[Herald], T]) -> Callable[[Herald], T]:
    made: WeakKeyDictionary[Herald, T] = WeakKeyDictionary()
    lock = threading.Lock()

    def of(herald: Herald) -> T:
        with lock:
            if herald not in made:
                made[herald] = make(herald)
            return made[herald]

    return of
