"""Reference data shared by the hub and the connectors: the member registry and the
catalogues (items, notifiable diseases, formulary). The data lives in the files beside
this module; these modules only load and check it. Each loader takes a path or the file's
bytes (as published on the reference topic: schemas/reference/published.py)."""

from pathlib import Path

DATA_DIR = Path(__file__).parent

Source = Path | bytes


def source_text(source: Source | None, default: Path) -> str:
    """The text of a reference file given as a path, as its bytes, or not at all (shipped)."""
    if isinstance(source, bytes):
        return source.decode("utf-8")
    return (source or default).read_text(encoding="utf-8")
