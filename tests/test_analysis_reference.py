import itertools
import math

import pytest

from sslvit_lite.analysis import reference as ref


def test_reference_values_have_consistent_depths_tags_and_sources():
    for key in ref.reference_keys():
        r = ref.reference(key)
        assert r.tag in ("[NB]", "[FIG]") and r.source, key
    for key in ref.reference_keys("fourier_delta"):
        r = ref.reference(key)
        if isinstance(r, ref.ReferenceCurve):
            assert r.x == tuple(range(13)), key  # depths 0..12
    for metric in ("attention_distance", "nmi", "linear_probe"):
        assert all(ref.reference(k).x == tuple(range(1, 13)) for k in ref.reference_keys(metric)), metric
    assert ref.reference("fourier_delta/mae_decoder/fig").low == -3.45
    assert [p["lambda"] for p in ref.HYBRID_SWEEP["points"]] == [0.0, 0.2, 0.4, 0.6, 1.0]
    with pytest.raises(ValueError, match="valid:"):
        ref.reference("nmi/simmim/nb")
    with pytest.raises(ValueError, match="valid:"):
        ref.reference_keys("accuracy")
    with pytest.raises(ValueError, match="x has 2 values but y has 1"):
        ref.ReferenceCurve("k", "nmi", "m", (1, 2), (0.1,), "block", "", "[NB]", "src")


def test_uniform_attention_distance_note_matches_the_formula():
    """The MoCo v3 notebook curve's note quotes 116.5 px for uniform attention on 14 × 14 patches of 16 px:
    the mean distance between two patch centres of that grid, computed here."""
    centres = [(16 * (i + 0.5), 16 * (j + 0.5)) for i in range(14) for j in range(14)]
    mean = sum(math.dist(a, b) for a, b in itertools.product(centres, centres)) / len(centres) ** 2
    assert "116.5 px" in ref.CURVES["attention_distance/mocov3/nb"].note
    assert mean == pytest.approx(116.5, abs=0.1)
