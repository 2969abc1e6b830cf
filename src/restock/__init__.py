"""restock: an inventory replenishment workbook for live-commerce sellers.

The package holds all logic; the notebooks under ``notebooks/`` only set parameters,
call these functions and show tables and charts.
"""

__version__ = "0.1.0"
