"""``seeding="batch"``: the cores' fast samplers draw valid, reproducible episodes from the same
distributions as the default samplers, and the batched kernels match their one-copy
counterparts bit for bit."""

import numpy as np
import pytest
from scipy import stats

import lowcarbon.envs  # noqa: F401  (registers the ids)
from lowcarbon.envs import ENV_IDS, make_vector_env
from lowcarbon.envs.backlog import (
    batch_amount,
    batch_amounts,
    place,
    place_all,
    serve_edf,
    serve_edf_all,
)
from lowcarbon.envs.metaverse_offload import MetaverseOffloadCore, MetaverseOffloadParams
from lowcarbon.envs.metaverse_offload.env import _route, _route_unrolled


def _episode(env_id: str, n: int, seed: int) -> list[np.ndarray]:
    venv = make_vector_env(env_id, n, seeding="batch")
    assert venv.core.fast_draws
    obs, _ = venv.reset(seed=seed)
    trace = [obs]
    rng = np.random.default_rng(seed)
    horizon = venv.core.horizon
    for t in range(horizon):
        obs, r, term, trunc, info = venv.step(rng.uniform(-1, 1, venv.action_space.shape))
        assert venv.observation_space.contains(obs), t
        assert np.all(np.isfinite(r)) and np.all(term == (t == horizon - 1)) and not trunc.any()
        for key in venv.core.info_keys:
            assert np.all(np.isfinite(info[key])), key
        assert np.allclose(r, sum(v for k, v in info.items() if k.startswith("r_")))
        trace += [obs, r, *(info[k] for k in venv.core.info_keys)]
    return trace


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_batch_mode_episodes_are_valid_and_reproducible(env_id):
    a = _episode(env_id, 33, seed=5)
    b = _episode(env_id, 33, seed=5)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0][0], a[0][1])  # copies differ
    assert not np.array_equal(a[0], make_vector_env(env_id, 33, seeding="batch").reset(seed=6)[0])
    assert not make_vector_env(env_id, 2).core.fast_draws  # per_copy keeps the default draws


def test_metaverse_fast_draws_sample_the_same_distributions():
    """Two-sample KS tests between a batch drawn by the default samplers and one drawn by the
    fast ones (seeded, so deterministic; the bound is far in the tail)."""
    params = MetaverseOffloadParams(n_users=12, n_servers=6)
    default = MetaverseOffloadCore(params, 256)
    fast = MetaverseOffloadCore(params, 256)
    fast.fast_draws = True
    default.reset(np.random.default_rng(1))
    fast.reset(np.random.default_rng(2))
    default.observe()  # sums the forecasts
    fast.observe()

    def same(x: np.ndarray, y: np.ndarray, what: str) -> None:
        p = stats.ks_2samp(x.ravel(), y.ravel()).pvalue
        assert p > 1e-6, (what, p)

    # independent draws: all entries pooled
    for name in ("n_req", "upload_s", "deadline", "soc", "ci_end", "leftover_kg_per_step",
                 "batch_arrivals"):  # fmt: skip
        x, y = getattr(default, name), getattr(fast, name)
        assert x.shape == y.shape, name
        same(x, y, name)
    # signals correlated over the day (and PV over sites): across copies at a few slots
    for name in ("ci", "price", "pv_kw", "forecast"):
        x, y = getattr(default, name), getattr(fast, name)
        assert x.shape == y.shape, name
        for t in (0, 41, 90):
            same(x[:, t].reshape(256, -1)[:, -1], y[:, t].reshape(256, -1)[:, -1], (name, t))
    # requests: the mean of every slot and user, against the Poisson means
    mean = fast.diurnal[:, None] * fast.rate
    se = np.sqrt(mean / fast.batch_size)
    assert np.all(np.abs(fast.n_req.mean(0) - mean) < 6 * se)
    assert np.all(fast.n_req <= fast.n_cap) and np.all(fast.n_req == np.round(fast.n_req))


def _layouts(x: np.ndarray) -> list[np.ndarray]:
    """``x`` C-ordered and as a view with the copies (axis 0) innermost in memory."""
    return [x.copy(), np.ascontiguousarray(np.moveaxis(x, 0, -1)).T if x.ndim == 2 else x.copy()]


@pytest.mark.parametrize("layout", [0, 1])
def test_batched_backlog_steps_match_the_one_copy_ones(layout):
    rng = np.random.default_rng(0)
    B, D, n = 41, 9, 4
    backlog = rng.gamma(0.5, 100.0, (B, D)) * (rng.random((B, D)) < 0.7)
    a = rng.choice([-1.0, -0.5, 0.0, 0.3, 1.0], B)
    room = rng.uniform(0, 300, (n, B)) * (rng.random((n, B)) < 0.8)
    scores = rng.choice([-1.0, -0.2, 0.0, 0.7, 1.0], (n, B))
    scores[:, :5] = -1.0  # every score -1: split by room
    arrivals, slack = rng.gamma(2.0, 50.0, B), rng.integers(0, D, B)
    for has_next in (True, False):
        rows = _layouts(backlog)[layout]
        want = np.empty(B)
        batch_amounts(a, rows, want)
        run, placed = np.empty((n, B)), np.empty(B)
        place_all(want, room, scores, run, placed)
        dropped, left = np.empty(B), np.empty(B)
        serve_edf_all(rows, placed, arrivals, slack, has_next, dropped, left)
        for b in range(B):
            row = backlog[b].copy()
            w = batch_amount(a[b], row)
            out = np.empty(n)
            p = place(w, room[:, b].copy(), scores[:, b].copy(), out)
            d, lft = serve_edf(row, p, arrivals[b], slack[b], has_next)
            assert w == want[b] and p == placed[b] and np.array_equal(out, run[:, b])
            assert d == dropped[b] and lft == left[b] and np.array_equal(row, rows[b])


@pytest.mark.parametrize("n_levels", [1, 2, 5, 8, 13])
def test_unrolled_routing_matches_the_loop(n_levels):
    rng = np.random.default_rng(n_levels)
    B = 97
    levels = np.cumsum(rng.integers(1, 15, n_levels)).astype(float)
    quality = np.sort(rng.uniform(0.2, 1.0, n_levels))
    tau = 0.09
    level = rng.integers(0, n_levels, B)
    slack0 = rng.uniform(-1.0, levels[-1] * tau * 1.3, B)
    slack0[:3] = -np.inf, np.inf, levels[0] * tau + 0.01  # never, always, just the lowest
    score = rng.choice([-1.0, -0.3, 0.4, 1.0], B)
    wsum = rng.uniform(0, 2, B) * (rng.random(B) < 0.8)  # some users route nothing anywhere
    n = rng.poisson(30.0, B).astype(float)
    start = rng.random(B), np.zeros(B), np.full(B, 0.5)  # sums so far
    out = []
    for route, table in (
        (_route, (levels, quality)),
        (_route_unrolled, (tuple(levels), tuple(quality))),
    ):
        load, served_n, served_q = (x.copy() for x in start)
        route(*table, tau, level, slack0, 0.02, score, 0.3, wsum, n, load, served_n, served_q, B)
        out.append((load, served_n, served_q))
    for x, y in zip(*out, strict=True):
        assert np.array_equal(x, y)


def test_energy_internet_fast_draws_sample_the_same_loads_and_renewables():
    """The Energy Internet's fast path (log-normal as exp of a normal, into kept arrays): the
    same distributions (KS, seeded), and a second reset into the same arrays is still valid."""
    from lowcarbon.envs.energy_internet import EnergyInternetCore, EnergyInternetParams

    params = EnergyInternetParams(n_prosumers=8)
    default, fast = EnergyInternetCore(params, 512), EnergyInternetCore(params, 512)
    fast.fast_draws = True
    default.reset(np.random.default_rng(1))
    fast.reset(np.random.default_rng(2))
    for name in ("load_kw", "renewable_kw", "ev_present"):
        for i in range(params.n_prosumers):
            x = getattr(default, name)[..., i].ravel().astype(float)
            y = getattr(fast, name)[..., i].ravel().astype(float)
            assert stats.ks_2samp(x, y).pvalue > 1e-6, (name, i)
    first = fast.load_kw.copy()
    fast.reset(np.random.default_rng(3))
    assert fast.load_kw.shape == first.shape and not np.array_equal(fast.load_kw, first)
    assert np.all(fast.load_kw <= 3.0 * fast._load_mean + 1e-12)
