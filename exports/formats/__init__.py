"""Export and import formats, registered by name. Add one: a file here with an Exporter (or
ItemImporter) subclass decorated with @register_exporter (@register_importer), imported below."""

from exports.formats.base import (
    AnnotationRow,
    CandidateRow,
    ExportContext,
    Exporter,
    ExportSummary,
    FileSchema,
    FormatError,
    ItemImporter,
    ItemRecord,
)
from exports.formats.registry import (
    all_exporters,
    all_importers,
    all_judgment_importers,
    get_exporter,
    get_importer,
    get_judgment_importer,
)

from exports.formats import items, raw, trl_preference  # noqa: E402,F401  (register themselves)
from exports.formats import items_csv, pairwise_judgments, preference_import, rewardbench, trl_unpaired  # noqa: E402,F401
from exports.formats import mqm_tsv, mt_metrics_eval, scores_long  # noqa: E402,F401  (register themselves)
from exports.formats import judgment_import  # noqa: E402,F401  (register themselves)

__all__ = [
    "AnnotationRow",
    "CandidateRow",
    "ExportContext",
    "ExportSummary",
    "Exporter",
    "FileSchema",
    "FormatError",
    "ItemImporter",
    "ItemRecord",
    "all_exporters",
    "all_importers",
    "all_judgment_importers",
    "get_exporter",
    "get_importer",
    "get_judgment_importer",
]
