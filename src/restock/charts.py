"""Chart set-up shared by the notebooks: one seaborn theme and a CJK font.

Chinese product names and labels need a font with CJK glyphs. The project installs one
through its own requirements (the ``mplfonts`` wheel ships Noto Sans CJK SC, SIL Open
Font License), so nothing has to be installed by hand; :func:`setup` registers it with
matplotlib and puts it first in the sans-serif list, with DejaVu Sans behind it for
Latin glyphs and symbols.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import matplotlib
import seaborn as sns
from matplotlib import font_manager

__all__ = ["CJK_FONT_FILE", "cjk_font_name", "setup"]

CJK_FONT_FILE = Path(str(importlib.resources.files("mplfonts") / "fonts" / "NotoSansCJKsc-Regular.otf"))


def cjk_font_name() -> str:
    """Register the bundled CJK font with matplotlib and return its family name."""
    font_manager.fontManager.addfont(str(CJK_FONT_FILE))
    return font_manager.FontProperties(fname=str(CJK_FONT_FILE)).get_name()


def setup(context: str = "notebook") -> str:
    """Apply the restock chart theme; returns the CJK family in use.

    Args:
        context: seaborn plotting context (``paper``, ``notebook``, ``talk``).
    """
    family = cjk_font_name()
    sns.set_theme(
        context=context,
        style="whitegrid",
        font="sans-serif",
        rc={
            "font.sans-serif": [family, "DejaVu Sans"],
            "axes.unicode_minus": False,  # the CJK font has no U+2212 minus sign
            "figure.figsize": (10, 4.5),
            "figure.dpi": 100,
        },
    )
    matplotlib.rcParams["svg.fonttype"] = "none"
    return family
