"""Selfish rules of :class:`~.env.EdgeOffloadEnv`: each provider on its own, blind to the others.

A provider sees its own users and the sites as MetaverseOffload-v1's rules see them, but plans as
if the sites were its own: it neither knows nor leaves room for the other providers' load. The
welfare these rules lose against the central oracle is the benchmark's price of anarchy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..carbon import G_PER_KG
from .env import EdgeOffloadCore


class SelfishGreedyPolicy:
    """Every provider, on its own, runs MetaverseOffload-v1's carbon-aware greedy for its users:
    each user takes the level and site maximising ``w_quality q(k) - w_carbon g CO2`` per request
    among the options that meet its deadline, with the sites' whole capacity as its room (the
    other providers' requests are not counted). Acts jointly: (P, act_dim)."""

    name = "selfish"

    def __init__(self, env: Any) -> None:
        self.env = env.unwrapped if hasattr(env, "unwrapped") else env
        self.core: EdgeOffloadCore = self.env.core

    def reset(self) -> None:
        """Nothing to plan: the rule reads the current slot only."""

    def act(self, obs: object = None) -> np.ndarray:
        core = self.core
        j, t, S, K = core.joint, core.joint.t, core.S, core.joint.K
        p = j.p
        kwh_step = j.site_kwh_per_step()
        g_step = kwh_step * j.ci[0, t] * G_PER_KG  # g CO2 per denoising step, each site
        eff = j.effective_level(0, t)  # (U, S, K)
        n = j.n_req[0, t]
        out = np.zeros((j.U, S + 1))
        for a in range(core.n_agents):
            room = j.cap.copy()  # the provider plans as if the sites were its own
            for u in range(a * core.u, (a + 1) * core.u):
                ok = eff[u] >= 0
                if n[u] <= 0 or not ok.any():
                    out[u, 0] = 0.0
                    out[u, 1:] = 0.0
                    continue
                runs = j.levels[np.maximum(eff[u], 0)]  # (S, K) steps the site would run
                value = np.where(ok, p.w_quality * j.quality[np.maximum(eff[u], 0)]
                                 - p.w_carbon_per_g * g_step[:, None] * runs, -np.inf)  # fmt: skip
                fits = runs * n[u] <= room[:, None]
                value = np.where(fits, value, value - 1e6)  # prefer options with room
                s, k = np.unravel_index(int(np.argmax(value)), value.shape)
                room[s] -= runs[s, k] * n[u]
                out[u, 0] = 2.0 * k / max(K - 1, 1) - 1.0
                out[u, 1:] = -1.0
                out[u, 1 + s] = 1.0
        return out.reshape(core.n_agents, core.act_dim)


RULES = {"selfish": SelfishGreedyPolicy}
