"""Project paths and the weekly parameter file.

One module owns the paths (cookiecutter-data-science v2): every other module asks
here instead of building its own. ``RESTOCK_HOME`` overrides the project root, which
is how tests and the benchmark point the package at a temporary tree.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "PROJECT_ROOT",
    "CONFIG_DIR",
    "MAPPINGS_DIR",
    "DATA_DIR",
    "RAW_DIR",
    "SAMPLE_DIR",
    "TEMPLATES_DIR",
    "NOTEBOOKS_DIR",
    "REPORTS_DIR",
    "DEFAULT_STORE",
    "DEFAULT_CONFIG",
]

PROJECT_ROOT = Path(os.environ.get("RESTOCK_HOME", Path(__file__).resolve().parents[2]))
CONFIG_DIR = PROJECT_ROOT / "config"
MAPPINGS_DIR = CONFIG_DIR / "mappings"
DATA_DIR = PROJECT_ROOT / "data"
RAW_DIR = DATA_DIR / "raw"
SAMPLE_DIR = DATA_DIR / "sample"
TEMPLATES_DIR = DATA_DIR / "templates"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
REPORTS_DIR = PROJECT_ROOT / "reports"
DEFAULT_STORE = DATA_DIR / "restock.duckdb"
DEFAULT_CONFIG = CONFIG_DIR / "weekly.yaml"
