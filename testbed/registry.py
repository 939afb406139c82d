"""Name -> implementation registries: the extension points a YAML file refers to.

A new policy, budget generator, architecture or training method is one function or class
plus one ``@REGISTRY.register("name")`` line. Registering a name twice is a programming
error (``ValueError``); asking for an unknown name is a user error (:class:`ConfigError`)
that lists the known names.
"""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from .errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = obj
            return obj
        return add

    def get(self, name: str, file: str | None = None, where: str | None = None) -> T:
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise ConfigError(file, where or self.kind,
                              f"one of {', '.join(sorted(self._items))}", name) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)
