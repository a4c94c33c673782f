import numpy as np
import pytest

from lowcarbon.envs import carbon


def test_energy_conversions_round_trip():
    assert carbon.joules_to_kwh(3.6e6) == pytest.approx(1.0)
    assert carbon.kwh_to_joules(2.0) == pytest.approx(7.2e6)
    assert carbon.joules_to_wh(7200.0) == pytest.approx(2.0)
    assert carbon.wh_to_kwh(1500.0) == pytest.approx(1.5)
    x = np.array([0.0, 1.0, 123.4])
    np.testing.assert_allclose(carbon.joules_to_kwh(carbon.kwh_to_joules(x)), x)


def test_mass_and_intensity_conversions():
    assert carbon.g_to_kg(2500.0) == pytest.approx(2.5)
    assert carbon.kg_to_g(0.25) == pytest.approx(250.0)
    assert carbon.intensity_g_to_kg(377.3) == pytest.approx(0.3773)


def test_co2_rule_and_wen_emission_factor():
    # Wen et al. (TMC 2026): 3.773e-4 kg per Wh; 1 kWh = 1000 Wh -> 0.3773 kg.
    assert carbon.co2_kg(1.0, carbon.WEN_TMC2026_KG_PER_KWH) == pytest.approx(1000 * 3.773e-4)
    # 3600 J = 1 Wh at 0.3773 kg/kWh -> 3.773e-4 kg.
    assert carbon.co2_kg_from_joules(3600.0, 0.3773) == pytest.approx(3.773e-4)
    np.testing.assert_allclose(
        carbon.co2_kg(np.array([1.0, 2.0]), np.array([0.1, 0.5])), [0.1, 1.0]
    )
