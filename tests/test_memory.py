"""restock.memory: freed heap blocks go back to the operating system."""

import subprocess
import sys

import pytest

from restock import memory

_FRAGMENTED_HEAP = """
import numpy as np, psutil
from restock.memory import release_memory
rss = lambda: psutil.Process().memory_info().rss
blocks = [np.ones(8_000) for _ in range(25_000)]  # 64 KB each: glibc's heap, not mmap
pin = np.ones(8_000)  # above them, so free() alone cannot shrink the heap
before = rss()
del blocks
freed = rss()
release_memory()
print(before, freed, rss())
"""


@pytest.mark.skipif(memory._MALLOC_TRIM is None, reason="the C library has no malloc_trim")
def test_release_memory_returns_the_freed_heap():
    before, freed, released = map(int, subprocess.run(
        [sys.executable, "-c", _FRAGMENTED_HEAP], capture_output=True, text=True, check=True
    ).stdout.split())
    assert before - freed < 100 * 2**20  # 1.6 GB freed, yet glibc kept most of it
    assert before - released > 1_000 * 2**20  # released: back to the OS
