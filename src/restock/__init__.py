"""restock: an inventory replenishment workbook for live-commerce sellers.

The package holds all logic; the notebooks under ``notebooks/`` only set parameters,
call these functions and show tables and charts.
"""

import os

import pyarrow as pa

__version__ = "0.1.0"

# Arrow's default allocator (mimalloc) hands large freed buffers back to the OS, so every
# new column of millions of rows pays its page faults again; glibc's malloc reuses them.
# On the benchmark machine intake and demand building ran 1.3-2x faster with it
# (BENCHMARKS.md). Setting ARROW_DEFAULT_MEMORY_POOL keeps Arrow's own choice.
if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
    pa.set_memory_pool(pa.system_memory_pool())
