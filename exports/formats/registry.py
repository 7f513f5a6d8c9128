from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from exports.formats.base import Exporter, ItemImporter

_EXPORTERS: dict[str, Exporter] = {}
_IMPORTERS: dict[str, ItemImporter] = {}
_JUDGMENT_IMPORTERS: dict[str, Any] = {}  # judgments of items already in a study (judgment_import.py)


def _register(table: dict, cls: type):
    instance = cls()
    if not instance.name or instance.name in table:
        raise TypeError(f"format {cls.__name__} has no name or a name already taken")
    table[instance.name] = instance
    return cls


def register_exporter(cls):
    return _register(_EXPORTERS, cls)


def register_importer(cls):
    return _register(_IMPORTERS, cls)


def register_judgment_importer(cls):
    return _register(_JUDGMENT_IMPORTERS, cls)


def get_judgment_importer(name: str):
    try:
        return _JUDGMENT_IMPORTERS[name]
    except KeyError:
        raise KeyError(f"unknown judgment format {name!r}; available: {', '.join(sorted(_JUDGMENT_IMPORTERS))}") from None


def all_judgment_importers() -> dict[str, Any]:
    return dict(_JUDGMENT_IMPORTERS)


def get_exporter(name: str) -> Exporter:
    try:
        return _EXPORTERS[name]
    except KeyError:
        raise KeyError(f"unknown export format {name!r}; available: {', '.join(sorted(_EXPORTERS))}") from None


def get_importer(name: str) -> ItemImporter:
    try:
        return _IMPORTERS[name]
    except KeyError:
        raise KeyError(f"unknown import format {name!r}; available: {', '.join(sorted(_IMPORTERS))}") from None


def all_exporters() -> dict[str, Exporter]:
    return dict(_EXPORTERS)


def all_importers() -> dict[str, ItemImporter]:
    return dict(_IMPORTERS)
