import csv
import logging
from pathlib import Path

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


# ---------------------------------------------------------------------------------------------
# Real-world CSV layouts (fixtures under tests/fixtures/traces: made-up numbers, real layouts)
# ---------------------------------------------------------------------------------------------

TRACES = Path(__file__).parent / "fixtures" / "traces"
LB = 0.45359237  # kg per lb
LB_PER_MWH = LB / 1000.0  # kg/kWh per lb/MWh


def _column(path, index, skip_header=True):
    """Raw numbers of one column of a fixture, read independently of the loader."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    return np.array([float(r[index]) for r in rows[1 if skip_header else 0 :]])


def _hour(text):
    return np.datetime64(text, "h")


def test_electricity_maps_export_uses_the_direct_column():
    path = TRACES / "electricitymaps_hourly.csv"
    tr = load_intensity_csv(path)
    assert tr.values.shape == (48,) and tr.timestamps[0] == _hour("2024-03-01T00")
    assert tr.timestamps[-1] == _hour("2024-03-02T23") and tr.first_hour_of_day == 0
    np.testing.assert_allclose(tr.values[:2], [0.34329, 0.32694])  # g/kWh -> kg/kWh
    np.testing.assert_allclose(tr.values, _column(path, 4) / 1000.0)
    lca = load_intensity_csv(path, column="Carbon Intensity gCO₂eq/kWh (LCA)")
    np.testing.assert_allclose(lca.values[:2], [0.40562, 0.38764])
    via_spec = signals.make_intensity_source(f"{path}:Carbon Intensity gCO₂eq/kWh (LCA)")
    np.testing.assert_allclose(via_spec.values, lca.values)
    np.testing.assert_allclose(signals.make_intensity_source(str(path)).values, tr.values)


def test_watttime_moer_is_lb_per_mwh_resampled_to_hourly_means():
    path = TRACES / "watttime_moer_5min.csv"
    tr = signals.make_intensity_source(str(path))
    assert tr.values.shape == (4,) and tr.timestamps[0] == _hour("2019-07-01T00")
    raw = _column(path, 1)
    assert raw[:2].tolist() == [955.0, 952.6]
    np.testing.assert_allclose(tr.values, raw.reshape(4, 12).mean(axis=1) * LB_PER_MWH)
    # First hour: the mean of the first twelve 5-minute values, 11745.8 / 12 lb/MWh.
    np.testing.assert_allclose(tr.values[0], 11745.8 / 12 * LB_PER_MWH)


def test_eia_api_v2_download_reads_units_per_row():
    path = TRACES / "eia_api_v2_hourly.csv"
    tr = load_intensity_csv(path)
    assert tr.values.shape == (24,) and tr.timestamps[0] == _hour("2024-01-01T00")
    np.testing.assert_allclose(tr.values[:2], [915 * LB_PER_MWH, 906 * LB_PER_MWH])
    np.testing.assert_allclose(tr.values, _column(path, 5) * LB_PER_MWH)


def test_eia_value_units_spellings(tmp_path):
    p = _write(
        tmp_path,
        "period,respondent,value,value-units\n"
        "2024-01-01T00,XMPL,900,lbs/MWh\n"
        "2024-01-01T01,XMPL,400,kg/MWh\n"
        "2024-01-01T02,XMPL,380,g/kWh\n"
        "2024-01-01T03,XMPL,0.41,metric tons per megawatthour\n"
        "2024-01-01T04,XMPL,1000,pounds per megawatthour\n",
    )
    np.testing.assert_allclose(
        load_intensity_csv(p).values, [900 * LB_PER_MWH, 0.4, 0.38, 0.41, 1000 * LB_PER_MWH]
    )


def test_eia930_end_of_hour_utc_is_preferred_and_moved_to_the_hour_start():
    path = TRACES / "eia930_end_of_hour.csv"
    tr = load_intensity_csv(path)
    # "1/1/2024 1:00:00 AM" ends the first UTC hour; the local-time column (UTC-5) is ignored.
    assert tr.values.shape == (24,) and tr.timestamps[0] == _hour("2024-01-01T00")
    assert tr.timestamps[-1] == _hour("2024-01-01T23")
    np.testing.assert_allclose(tr.values[:2], [938.7 * LB_PER_MWH, 914.7 * LB_PER_MWH])
    np.testing.assert_allclose(tr.values, _column(path, 5) * LB_PER_MWH)


def test_generic_file_with_offsets_is_converted_to_utc_hourly_means():
    path = TRACES / "generic_offset_lbs_per_mwh.csv"
    tr = load_intensity_csv(path)
    assert tr.values.shape == (12,)
    assert tr.timestamps[0] == _hour("2024-06-01T00")  # 02:00+02:00
    np.testing.assert_allclose(tr.values[0], (820.0 + 825.1) / 2 * LB_PER_MWH)
    np.testing.assert_allclose(tr.values, _column(path, 1).reshape(12, 2).mean(1) * LB_PER_MWH)


def test_timestamp_free_series_honours_start_and_step(caplog):
    path = TRACES / "series_15min_kwh.csv"
    raw = _column(path, 0)
    with caplog.at_level(logging.WARNING, logger="lowcarbon.envs.signals"):
        tr = load_intensity_csv(path, start="2024-05-01T00:00", step="15min")
    assert "assuming kg/kWh" in caplog.text  # name gives only the energy unit
    assert tr.values.shape == (24,) and tr.timestamps[0] == _hour("2024-05-01T00")
    np.testing.assert_allclose(tr.values[0], np.mean([0.2600, 0.2633, 0.2606, raw[3]]))
    np.testing.assert_allclose(tr.values, raw.reshape(24, 4).mean(axis=1))
    same = load_intensity_csv(path, start=np.datetime64("2024-05-01T00:00"), step=15)
    np.testing.assert_array_equal(same.values, tr.values)
    np.testing.assert_array_equal(same.timestamps, tr.timestamps)
    # Without start/step: one value per hour from the documented epoch.
    hourly = load_intensity_csv(path)
    assert hourly.values.shape == (96,) and hourly.timestamps[0] == _hour("2000-01-01T00")
    np.testing.assert_allclose(hourly.values, raw)
    late = load_intensity_csv(path, start="2024-05-01T06:30", step="30min")
    assert late.timestamps[0] == _hour("2024-05-01T06") and late.first_hour_of_day == 6
    np.testing.assert_allclose(late.values[:2], [raw[0], raw[1:3].mean()])


def test_headerless_columns_by_index(tmp_path):
    path = TRACES / "headerless_two_columns.csv"
    second = signals.make_intensity_source(f"{path}:1")
    assert second.values.shape == (48,) and second.timestamps[0] == _hour("2000-01-01T00")
    np.testing.assert_allclose(second.values[:2], [0.4281, 0.4139])  # g/kWh by magnitude
    first = load_intensity_csv(path, column=0)
    np.testing.assert_allclose(first.values, _column(path, 0, skip_header=False) / 1000.0)
    np.testing.assert_allclose(load_intensity_csv(path, column="1").values, second.values)
    with pytest.raises(SignalFileError, match="0-based index"):
        load_intensity_csv(path)
    with pytest.raises(SignalFileError, match="no header row"):
        load_intensity_csv(path, column="gco2_per_kwh")
    # A header file takes a 0-based index too.
    p = _write(tmp_path, "timestamp,gco2_per_kwh\n2024-01-01T00:00,300\n")
    np.testing.assert_allclose(signals.make_intensity_source(f"{p}:1").values, [0.3])


def _year_of_values(seed=0):
    rng = np.random.default_rng(seed)
    hours = np.arange(8760)
    return 0.18 + 0.03 * np.sin(2 * np.pi * hours / 24) + rng.uniform(-0.01, 0.01, 8760)


def test_bom_and_hourly_series_without_timestamps(tmp_path, caplog):
    """The reported case: 8,760 rows, a BOM before the header, the unit only in the name."""
    values = _year_of_values()
    body = "\n".join(f"{v:.5f}" for v in values) + "\n"
    p = tmp_path / "year.csv"
    p.write_bytes(b"\xef\xbb\xbf" + ("kg_co2_per_kwh\n" + body).encode())
    tr = signals.make_intensity_source(str(p))
    assert tr.values.shape == (8760,) and tr.first_hour_of_day == 0
    assert tr.timestamps[0] == _hour("2000-01-01T00") and tr.timestamps[-1] == _hour(
        "2000-12-30T23"
    )
    np.testing.assert_allclose(tr.values, np.round(values, 5))
    assert 0.17 < tr.mean_kg_per_kwh < 0.19
    # The same without a header: kg/kWh from the magnitude, with a warning.
    q = tmp_path / "bare.csv"
    q.write_bytes(b"\xef\xbb\xbf" + body.encode())
    with caplog.at_level(logging.WARNING, logger="lowcarbon.envs.signals"):
        bare = load_intensity_csv(q)
    assert "assuming kg/kWh" in caplog.text
    np.testing.assert_array_equal(bare.values, tr.values)
    # A name giving only the energy unit, in g: g/kWh from the magnitude.
    r = _write(tmp_path, "carbon_intensity_kwh\n" + "".join(f"{v * 1000:.2f}\n" for v in values))
    np.testing.assert_allclose(load_intensity_csv(r).values, np.round(values * 1000, 2) / 1000)


def test_blank_line_in_a_series_without_timestamps_is_a_missing_hour(tmp_path):
    p = _write(tmp_path, "kg_co2_per_kwh\n0.2\n\n0.4\n\n")
    tr = load_intensity_csv(p)
    np.testing.assert_allclose(tr.values, [0.2, 0.3, 0.4])  # filled by interpolation


@pytest.mark.parametrize(
    ("column", "raw", "kg_per_kwh"),
    [
        ("gco2_per_kwh", 300.0, 0.3),
        ("kgCO2/kWh", 0.3, 0.3),
        ("kg_co2_per_kwh", 0.18, 0.18),
        ("lbs_co2_per_mwh", 1000.0, LB),
        ("g/kWh", 250.0, 0.25),
        ("CO2 intensity (lb/MWh)", 800.0, 800 * LB_PER_MWH),
        ("Carbon Intensity gCO₂eq/kWh (direct)", 120.0, 0.12),
        ("tCO2/MWh", 0.4, 0.4),
        ("kg CO2eq per MWh", 400.0, 0.4),
        ("carbon_intensity_kwh", 0.18, 0.18),  # kg by magnitude
    ],
)
def test_units_from_column_names(tmp_path, column, raw, kg_per_kwh):
    p = _write(tmp_path, f'timestamp,"{column}"\n2024-01-01T00:00,{raw}\n2024-01-01T01:00,{raw}\n')
    np.testing.assert_allclose(load_intensity_csv(p).values, [kg_per_kwh, kg_per_kwh])


@pytest.mark.parametrize(
    ("unit", "raw", "kg_per_kwh"),
    [
        ("lb/MWh", 1000.0, LB),
        ("lbs/MWh", 500.0, 500 * LB_PER_MWH),
        ("pounds per megawatthour", 1000.0, LB),
        ("kg/MWh", 400.0, 0.4),
        ("t/MWh", 0.4, 0.4),
        ("metric tons per megawatthour", 0.4, 0.4),
        ("g/kWh", 380.0, 0.38),
        ("kgCO2/kWh", 0.38, 0.38),
        ("gCO₂eq/kWh", 380.0, 0.38),
    ],
)
def test_explicit_unit_wins_over_the_name(tmp_path, unit, raw, kg_per_kwh):
    p = _write(tmp_path, f"timestamp,gco2_per_kwh\n2024-01-01T00:00,{raw}\n")
    np.testing.assert_allclose(load_intensity_csv(p, unit=unit).values, [kg_per_kwh])


def test_explicit_unit_wins_over_a_format_default(tmp_path):
    p = _write(tmp_path, "point_time,value\n2019-07-01T00:00:00+00:00,0.42\n")
    np.testing.assert_allclose(load_intensity_csv(p, unit="kg/kWh").values, [0.42])
    np.testing.assert_allclose(load_intensity_csv(p, unit="t/MWh").values, [0.42])


@pytest.mark.parametrize(
    "stamp",
    [
        "2024-01-01T05:00:00Z",
        "2024-01-01 05:00",
        "2024-01-01T05:00:00.000Z",
        "2024-01-01T07:00:00+02:00",
        "2024-01-01T00:00-05:00",
        "2024-01-01T05",
        "1/1/2024 5:00:00 AM",
        "1/1/2024 5:00",
        "2024-01-01 05:00:00 UTC",
    ],
)
def test_timestamp_spellings(tmp_path, stamp):
    p = _write(tmp_path, f"timestamp,gco2_per_kwh\n{stamp},300\n")
    tr = load_intensity_csv(p)
    assert tr.timestamps[0] == _hour("2024-01-01T05") and tr.first_hour_of_day == 5


def test_utc_column_is_preferred_over_local_and_pm_is_read(tmp_path):
    p = _write(
        tmp_path,
        "Datetime (Local),Datetime (UTC),gco2_per_kwh\n"
        "1/1/2024 7:00:00 PM,1/2/2024 12:00:00 AM,300\n"
        "1/1/2024 8:00:00 PM,1/2/2024 1:00:00 AM,500\n",
    )
    tr = load_intensity_csv(p)
    assert tr.timestamps.tolist() == [_hour("2024-01-02T00"), _hour("2024-01-02T01")]
    local = _write(tmp_path, "Datetime (Local),gco2_per_kwh\n1/1/2024 7:00:00 PM,300\n", "l.csv")
    assert load_intensity_csv(local).timestamps[0] == _hour("2024-01-01T19")


def test_semicolon_separated_file(tmp_path):
    p = _write(tmp_path, "timestamp;gco2_per_kwh\n2024-01-01T00:00;300\n2024-01-01T01:00;200\n")
    np.testing.assert_allclose(load_intensity_csv(p).values, [0.3, 0.2])


@pytest.mark.parametrize(
    ("text", "kwargs", "match"),
    [
        ("timestamp,gco2_per_kwh\n2024-01-01T00:00,nan\n", {}, "finite"),
        ("timestamp,gco2_per_kwh\n2024-01-01T00:00,inf\n", {}, "finite"),
        ("kg_co2_per_kwh\n0.2\n-0.1\n", {}, r"trace.csv:3: intensity must be finite and >= 0"),
        ("0.2\n0.3\nabc\n", {}, r"trace.csv:3: value 'abc'"),
        ("timestamp,gco2_per_kwh\n2024-01-01T00:00,0.3\n", {"unit": "g/kWh"}, "is it in kg/kWh"),
        ("timestamp,lbs_co2_per_mwh\n2024-01-01T00:00,0.4\n", {}, "is it in kg/kWh"),
        ("timestamp,value\n2024-01-01T00:00,0.4\n", {"unit": "lb/MWh"}, "is it in kg/kWh"),
        ("point_time,value\n2019-07-01T00:00:00+00:00,0.4\n", {}, "read as lb/MWh"),
        ("carbon_intensity_kwh\n3.0\n2.5\n", {}, "ambiguous"),
        ("period,value,value-units\n2024-01-01T00,900,furlongs\n", {}, ":2: cannot read unit"),
        ("timestamp,gco2_per_kwh\n", {}, "no data rows"),
        (
            "UTC Time at End of Hour,co2_lb_per_mwh\n1/1/2024 1:00:00 AM,900\n13/45/2024 2:00,900\n",
            {},
            r"trace.csv:3: cannot parse timestamp",
        ),
        (
            "timestamp,gco2_per_kwh\n2024-01-01T02:00,300\n2024-01-01T01:00,300\n"
            "2024-01-01T00:00,300\n",
            {},
            "newest first",
        ),
        (
            "timestamp,gco2_per_kwh\n2024-01-01T00:00,300\n2024-01-01T00:00,300\n",
            {},
            ":3: .*increase",
        ),
        (
            "timestamp,gco2_per_kwh\n2024-01-01T00:00,300\n",
            {"start": "2024-01-01"},
            "without timestamps",
        ),
        (
            "timestamp,gco2_per_kwh,lbs_co2_per_mwh\n2024-01-01T00:00,300,900\n",
            {},
            "several value columns",
        ),
        ("timestamp,gco2_per_kwh\n2024-01-01T00:00,300\n", {"column": "nope"}, "no column 'nope'"),
        ("timestamp,gco2_per_kwh\n2024-01-01T00:00,300\n", {"column": 0}, "holds the timestamps"),
        ("0.2,0.3,0.4\n0.2,0.3,0.4\n", {}, "no header row and 3 value columns"),
        ("kg_co2_per_kwh\n0.2\n", {"column": 3}, "no column 3"),
    ],
)
def test_more_bad_csv_files_say_what_is_wrong(tmp_path, text, kwargs, match):
    with pytest.raises(SignalFileError, match=match):
        load_intensity_csv(_write(tmp_path, text), **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"unit": "furlongs"}, "cannot read unit"),
        ({"unit": "short tons/MWh"}, "cannot read unit"),
        ({"step": "fortnightly"}, "cannot read step"),
        ({"step": 0}, "positive"),
        ({"start": "yesterday"}, "cannot read start"),
    ],
)
def test_bad_arguments_are_value_errors(tmp_path, kwargs, match):
    p = _write(tmp_path, "kg_co2_per_kwh\n0.2\n")
    with pytest.raises(ValueError, match=match):
        load_intensity_csv(p, **kwargs)


def test_whitespace_only_file_is_empty(tmp_path):
    with pytest.raises(SignalFileError, match="empty"):
        load_intensity_csv(_write(tmp_path, "\n  \n"))


def test_capped_poisson_sampler_matches_the_capped_pmf():
    """Frequencies of ~1e6 draws per mean against scipy's Poisson pmf with the tail folded into
    the cap. Seeded, so deterministic; the chi-square bound is far in the tail (a wrong
    sampler is off by orders of magnitude more)."""
    from scipy import stats

    means = np.array([0.0, 0.3, 4.0, 37.5, 110.0, 60.0])
    caps = np.array([5, 3, 20, 113, 330, 45])  # the last cap binds: P(X >= 45) = 0.03
    sampler = signals.CappedPoisson(means, caps)
    draws = sampler.sample(np.random.default_rng(0), 1_000_000)
    assert draws.shape == (1_000_000, means.size) and draws.dtype == np.float64
    for i, (mean, cap) in enumerate(zip(means, caps, strict=True)):
        x = draws[:, i]
        assert x.min() >= 0 and x.max() <= cap and np.all(x == np.round(x))
        pmf = stats.poisson.pmf(np.arange(cap + 1), mean)
        pmf[cap] = stats.poisson.sf(cap - 1, mean)  # P(X >= cap): what the cap collects
        freq = np.bincount(x.astype(np.int64), minlength=cap + 1)
        expected = pmf * x.size
        keep = expected >= 5  # pool the sparse tail cells (chi-square validity)
        obs = np.append(freq[keep], freq[~keep].sum())
        exp = np.append(expected[keep], expected[~keep].sum())
        if exp[-1] == 0:
            assert obs[-1] == 0
            obs, exp = obs[:-1], exp[:-1]
        if obs.size == 1:  # mean 0: every draw is 0
            assert obs[0] == x.size
            continue
        chi2 = float(((obs - exp) ** 2 / exp).sum())
        assert stats.chi2.sf(chi2, obs.size - 1) > 1e-6, (mean, cap, chi2)
        assert abs(x.mean() - (pmf * np.arange(cap + 1)).sum()) < 6 * x.std() / 1e3


def test_capped_poisson_batch_axis_and_reproducibility():
    mean = np.array([[1.0, 50.0, 7.0], [0.0, 2.5, 90.0]])
    sampler = signals.CappedPoisson(mean, np.array([10, 150, 300]))
    a = sampler.sample(np.random.default_rng(3), 4000, axis=1)
    assert a.shape == (2, 4000, 3)
    assert np.array_equal(a, sampler.sample(np.random.default_rng(3), 4000, axis=1))
    b = sampler.sample(np.random.default_rng(4), 4000)
    assert b.shape == (4000, 2, 3)
    assert np.allclose(a.mean(1), mean, atol=0.5) and np.allclose(b.mean(0), mean, atol=0.5)
    assert np.all(a[0, :, 0] <= 10) and np.all(a[1, :, 0] == 0)
    out = np.empty((2, 3, 4000))
    assert sampler.sample(np.random.default_rng(3), 4000, axis=2, out=out) is out
    assert np.allclose(out.mean(2), mean, atol=0.5)
    with pytest.raises(ValueError, match="out"):
        sampler.sample(np.random.default_rng(0), 4000, axis=1, out=out)
    with pytest.raises(ValueError, match="axis"):
        sampler.sample(np.random.default_rng(0), 2, axis=3)
    with pytest.raises(ValueError, match="mean"):
        signals.CappedPoisson(np.array([-1.0]), 3)
    with pytest.raises(ValueError, match="cap"):
        signals.CappedPoisson(np.array([1.0]), 2.5)


def _hour_coded(tmp_path, hours: int, name: str = "hours.csv") -> Path:
    """A trace whose value encodes its hour of day: 100 + 10 * hour g/kWh."""
    rows = ["timestamp,gco2_per_kwh"]
    start = np.datetime64("2024-03-01T00", "h")
    rows += [f"{start + np.timedelta64(k, 'h')}:00,{100 + 10 * (k % 24)}" for k in range(hours)]
    return _write(tmp_path, "\n".join(rows) + "\n", name)


def test_a_trace_that_is_not_whole_days_keeps_the_hour_of_day(tmp_path, caplog):
    """Windows run past the end of a 36-hour trace back onto the same hour of the first day
    (they used to wrap at the series' end, 12 hours out of step)."""
    trace = load_intensity_csv(_hour_coded(tmp_path, 36))
    with caplog.at_level(logging.WARNING):
        x = trace.sample(np.random.default_rng(0), 8, 60, np.array([0, 5, 18, 23, 1, 2, 3, 4]))
    hours = np.round((x * 1000 - 100) / 10).astype(int)
    starts = np.array([0, 5, 18, 23, 1, 2, 3, 4])
    assert np.array_equal(hours, (starts[:, None] + np.arange(60)) % 24)
    assert "its days repeat" in caplog.text  # 60 hours from a 36-hour trace


def test_a_user_trace_drives_an_env_and_a_short_one_is_refused_naming_the_argument(tmp_path):
    import gymnasium as gym

    import lowcarbon.envs  # noqa: F401

    path = _hour_coded(tmp_path, 48, "TRACE.CSV")  # the extension in any case
    env = gym.make("LowCarbon/EnergyInternet-v1", region=str(path), horizon=48)
    env.reset(seed=0)
    core = env.unwrapped.core
    hours = np.round((core.ci[0] * 1000 - 100) / 10).astype(int)  # kg/kWh per slot
    assert np.array_equal(hours, np.arange(48) % 24)  # episodes start at midnight
    nested = tmp_path / "runs.csv"  # a folder whose name ends in .csv, and a column suffix
    nested.mkdir()
    inner = _hour_coded(nested, 48, "trace.csv")
    assert signals.make_intensity_source(f"{inner}:gco2_per_kwh").values.shape == (48,)
    trace = load_intensity_csv(path)  # a trace object is a region too
    for env_id, kwargs in [
        ("LowCarbon/EnergyInternet-v1", {"region": trace}),
        ("LowCarbon/DataCenter-v1", {"site_regions": trace}),
        ("LowCarbon/MetaverseOffload-v1", {"server_regions": (trace, "solar", "wind")}),
    ]:
        e = gym.make(env_id, **kwargs)
        e.reset(seed=1)
        e.step(e.action_space.sample())
    short = _hour_coded(tmp_path, 3, "short.csv")
    with pytest.raises(ValueError, match=r"region: trace .* covers 3 hour\(s\)"):
        gym.make("LowCarbon/EnergyInternet-v1", region=str(short))
    with pytest.raises(ValueError, match="region: a carbon-intensity source is"):
        gym.make("LowCarbon/EnergyInternet-v1", region=np.ones(24))
