import io
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from restock import charts  # noqa: E402


def test_setup_puts_the_bundled_cjk_font_first():
    family = charts.setup()
    assert charts.CJK_FONT_FILE.is_file()
    assert matplotlib.rcParams["font.sans-serif"][0] == family == "Noto Sans CJK SC"


def test_chinese_labels_render_without_missing_glyphs():
    charts.setup()
    fig, ax = plt.subplots()
    sns.barplot(x=["连衣裙 黑色 M", "口红 #999"], y=[3, -1], ax=ax)
    ax.set_title("每日订单与退货 − 演示")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(io.BytesIO(), format="png")
    plt.close(fig)
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert missing == []
