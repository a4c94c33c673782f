"""Carbon-aware AIoT environments (``import lowcarbon.envs`` registers them with Gymnasium).

Registered ids (:data:`ENV_IDS`; each class docstring is the full specification):

* ``LowCarbon/MetaverseOffload-v1``: mobile AIGC offloading to carbon-aware edge sites (the
  paper's case study); ``-Large-v1`` and ``-CAISO-v1`` (real CAISO marginal emission rates);
* ``LowCarbon/DataCenter-v1``: geo-distributed data centres, deferrable batch work and cooling;
  ``-Large-v1``;
* ``LowCarbon/EnergyInternet-v1``: prosumers with PV, wind, batteries and EV charging;
  ``-Large-v1``.

``gym.make("lowcarbon.envs:LowCarbon/DataCenter-v1")`` works without importing this package
first, and ``gym.make_vec(id, num_envs=n, vectorization_mode="vector_entry_point")`` gives the
native batched vector environment. :mod:`lowcarbon.envs.suite` ties each id to its oracle, its
rule-based policies, its QoS metric and its action encoder.

Multi-agent envs (PettingZoo) are modules, as PettingZoo's own are:
``lowcarbon.envs.carbon_market_v0`` (prosumers trading energy and allowances under a cap) and
``lowcarbon.envs.edge_offload_v0`` (metaverse providers sharing edge sites), each with ``env()``,
``parallel_env()`` and ``raw_env``; :mod:`lowcarbon.envs.multiagent` holds their cores, front
ends and registry.
"""

from __future__ import annotations

import gymnasium as gym

from .carbon import co2_kg, co2_kg_from_joules, joules_to_kwh
from .core import BatchedCore, CoreEnv, CoreVectorEnv
from .data_center import DataCenterEnv, DataCenterParams
from .energy_internet import EnergyInternetEnv, EnergyInternetParams
from .metaverse_offload import MetaverseOffloadEnv, MetaverseOffloadParams
from .oracles import OraclePolicy
from .policy import Policy, RandomPolicy
from .suite import SuiteEntry, default_ids, entry, in_suite, suite

__all__ = [
    "DEFAULT_IDS",
    "ENV_IDS",
    "BatchedCore",
    "CoreEnv",
    "CoreVectorEnv",
    "DataCenterEnv",
    "DataCenterParams",
    "EnergyInternetEnv",
    "EnergyInternetParams",
    "MetaverseOffloadEnv",
    "MetaverseOffloadParams",
    "OraclePolicy",
    "Policy",
    "RandomPolicy",
    "SuiteEntry",
    "co2_kg",
    "co2_kg_from_joules",
    "entry",
    "in_suite",
    "joules_to_kwh",
    "make_vector_env",
    "suite",
]

ENV_IDS: tuple[str, ...] = tuple(suite())
DEFAULT_IDS: tuple[str, ...] = default_ids()


def make_vector_env(
    env_id: str, num_envs: int, *, seeding: str = "per_copy", **kwargs
) -> CoreVectorEnv:
    """The native batched vector environment of a registered id (kwargs override its defaults;
    ``seeding`` is :class:`CoreVectorEnv`'s: ``"per_copy"`` replays the single env's episodes,
    ``"batch"`` draws all copies at once for throughput)."""
    if env_id not in suite():
        raise gym.error.UnregisteredEnv(f"{env_id!r} is not a lowcarbon env; known: {ENV_IDS}")
    e = entry(env_id)
    return CoreVectorEnv(e.family.env_cls, num_envs, seeding=seeding, **{**e.kwargs, **kwargs})


for _id, _entry in suite().items():
    if _id not in gym.registry:
        _module = _entry.family.env_cls.__module__
        gym.register(
            id=_id,
            entry_point=f"{_module}:{_entry.family.env_cls.__name__}",
            # by name, not a closure, so that env.spec pickles (AsyncVectorEnv, SubprocVecEnv)
            # and serialises (EnvSpec.to_json)
            vector_entry_point=f"{_module}:make_vector",
            kwargs=dict(_entry.kwargs),
            disable_env_checker=False,
        )
