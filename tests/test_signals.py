import numpy as np
import pytest

from lowcarbon.envs import signals
from lowcarbon.envs.signals import SignalFileError, load_intensity_csv


def test_shipped_caiso_traces():
    for name in ("caiso_pge", "caiso_sce"):
        tr = signals.shipped_trace(name)
        assert tr.values.shape == (744,)  # July 2019, hourly
        assert 0.0 <= tr.values.min() and tr.values.max() < 1.5  # kg/kWh, marginal rates
        assert 0.1 < tr.mean_kg_per_kwh < 0.8
    rng = np.random.default_rng(0)
    x = signals.shipped_trace("caiso_pge").sample(rng, batch=3, horizon=24, start_hour=0)
    assert x.shape == (3, 24)


def test_synthetic_regions_are_calibrated():
    rng = np.random.default_rng(0)
    means = {k: signals.REGIONS[k].sample(rng, 200, 24, 0).mean() * 1000 for k in signals.REGIONS}
    assert 20 <= means["hydro"] <= 60 and 20 <= means["nuclear"] <= 90
    assert 200 <= means["mixed"] <= 450 and 600 <= means["coal"] <= 900
    solar = signals.REGIONS["solar"].sample(rng, 200, 24, 0).mean(0)
    assert solar[12] < 0.6 * solar[19]  # midday dip, evening peak


def test_region_sampling_is_seeded():
    a = signals.REGIONS["wind"].sample(np.random.default_rng(5), 2, 24, 0)
    b = signals.REGIONS["wind"].sample(np.random.default_rng(5), 2, 24, 0)
    c = signals.REGIONS["wind"].sample(np.random.default_rng(6), 2, 24, 0)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def _write(tmp_path, text, name="trace.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_csv_in_g_per_kwh_is_converted_and_resampled(tmp_path):
    p = _write(
        tmp_path,
        "timestamp,carbon_gco2_per_kwh\n"
        "2024-01-01T00:00:00Z,300\n2024-01-01T00:30:00Z,500\n2024-01-01T01:00:00Z,200\n",
    )
    tr = load_intensity_csv(p)
    np.testing.assert_allclose(tr.values, [0.4, 0.2])  # hourly means, kg/kWh
    assert signals.make_intensity_source(str(p) + ":carbon_gco2_per_kwh").values.shape == (2,)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty"),
        ("when,gco2\n2024-01-01T00:00,300\n", "no timestamp column"),
        ("timestamp,gco2_per_kwh\n2024-13-45T00:00,300\n", r"trace.csv:2: cannot parse timestamp"),
        ("timestamp,gco2_per_kwh\n2024-01-01T00:00,abc\n", r":2: value 'abc'"),
        ("timestamp,gco2_per_kwh\n2024-01-01T00:00,-5\n", ">= 0"),
        ("timestamp,gco2_per_kwh\n2024-01-01T01:00,300\n2024-01-01T00:00,300\n", "increase"),
        ("timestamp,gco2_per_kwh\n2024-01-01T00:00,0.3\n", "is it in kg/kWh"),
        ("timestamp,kgco2_per_kwh\n2024-01-01T00:00,300\n", "is it in g/kWh"),
        ("timestamp,value\n2024-01-01T00:00,300\n", "cannot tell the unit"),
        ("timestamp,a_gco2,b_gco2\n2024-01-01T00:00,3,4\n", "several value columns"),
        ("timestamp,gco2\n2024-01-01T00:00,300\n2024-01-05T00:00,300\n", "gap"),
    ],
)
def test_bad_csv_files_say_what_is_wrong(tmp_path, text, match):
    with pytest.raises(SignalFileError, match=match):
        load_intensity_csv(_write(tmp_path, text))


def test_missing_file_and_unknown_source(tmp_path):
    with pytest.raises(SignalFileError, match="no such file"):
        load_intensity_csv(tmp_path / "nope.csv")
    with pytest.raises(ValueError, match="unknown carbon-intensity source"):
        signals.make_intensity_source("atlantis")
