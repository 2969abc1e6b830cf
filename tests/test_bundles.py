import pandas as pd
import pytest

from restock.bundles import bundle_components, explode_bundles


@pytest.fixture
def products():
    return pd.DataFrame(
        {
            "sku": ["GIFT", "LIP", "FDN", "TEE"],
            "bundle_components": ["FDN*1; LIP*2", None, "", None],
        }
    ).astype("string")


@pytest.fixture
def order_lines():
    return pd.DataFrame(
        {
            "order_id": ["o1", "o1", "o2"],
            "line_id": ["l1", "l2", "l3"],
            "sku": pd.array(["GIFT", "TEE", "LIP"], dtype="string"),
            "qty": pd.array([3, 1, 1], dtype="Int64"),
            "unit_price": [100.0, 50.0, 20.0],
            "paid_amount": [300.0, 50.0, 20.0],
            "status": ["completed", "completed", "shipped"],
        }
    )


def test_components_are_parsed_with_their_units(products):
    parts = bundle_components(products)
    assert parts.to_dict("records") == [
        {"bundle": "GIFT", "component": "FDN", "units": 1},
        {"bundle": "GIFT", "component": "LIP", "units": 2},
    ]


def test_a_bundle_line_becomes_component_demand(order_lines, products):
    out = explode_bundles(order_lines, products)
    assert "GIFT" not in set(out["sku"])
    assert out.groupby("sku")["qty"].sum().to_dict() == {"FDN": 3, "LIP": 7, "TEE": 1}  # 3 gifts × (1 + 2)
    assert out["paid_amount"].sum() == pytest.approx(370.0)  # money split, not duplicated
    gift = out[out["line_id"].str.startswith("l1/")]
    assert set(gift["line_id"]) == {"l1/FDN", "l1/LIP"} and set(gift["status"]) == {"completed"}


def test_no_bundles_returns_the_lines_untouched(order_lines, products):
    plain = order_lines[order_lines["sku"] != "GIFT"]
    assert explode_bundles(plain, products) is plain


def test_malformed_components_name_the_bundle(products):
    bad = products.copy()
    bad.loc[0, "bundle_components"] = "FDN*0"
    with pytest.raises(ValueError, match=r"bundle_components of GIFT .* got entry 'FDN\*0'"):
        bundle_components(bad)
