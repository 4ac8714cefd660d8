"""Reference data shared by the hub and the connectors: the member registry and the
catalogues (items, notifiable diseases, formulary). The data lives in the files beside
this module; these modules only load and check it."""

from pathlib import Path

DATA_DIR = Path(__file__).parent
