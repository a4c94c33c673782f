"""Carbon-aware AIoT environments (``import lowcarbon.envs`` registers them with Gymnasium).

Registered ids (see each class docstring for the full specification):

* ``LowCarbon/MetaverseOffload-v0``: mobile AIGC offloading to carbon-aware edge servers;
* ``LowCarbon/MetaverseOffload-CAISO-v0``: the same, two servers on real CAISO marginal emissions;
* ``LowCarbon/DataCenter-v0``: geo-distributed data centres, deferrable batch work and cooling;
* ``LowCarbon/EnergyInternet-v0``: prosumers with PV, wind, batteries and EV charging.

``gym.make("lowcarbon.envs:LowCarbon/DataCenter-v0")`` works without importing this package first,
and ``gym.make_vec(id, num_envs=n, vectorization_mode="vector_entry_point")`` gives the native
batched vector environment.
"""

from __future__ import annotations

import gymnasium as gym

from .carbon import co2_kg, co2_kg_from_joules, joules_to_kwh
from .core import BatchedCore, CoreEnv, CoreVectorEnv
from .data_center import DataCenterEnv, DataCenterParams
from .energy_internet import EnergyInternetEnv, EnergyInternetParams
from .metaverse_offload import MetaverseOffloadEnv, MetaverseOffloadParams

__all__ = [
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
    "co2_kg",
    "co2_kg_from_joules",
    "joules_to_kwh",
    "make_vector_env",
]

#: id -> (env class, default kwargs)
_REGISTRY: dict[str, tuple[type[CoreEnv], dict]] = {
    "LowCarbon/MetaverseOffload-v0": (MetaverseOffloadEnv, {}),
    "LowCarbon/MetaverseOffload-CAISO-v0": (
        MetaverseOffloadEnv,
        {"server_regions": ("caiso_pge", "caiso_sce", "hydro", "coal")},
    ),
    "LowCarbon/DataCenter-v0": (DataCenterEnv, {}),
    "LowCarbon/EnergyInternet-v0": (EnergyInternetEnv, {}),
}
ENV_IDS: tuple[str, ...] = tuple(_REGISTRY)


def make_vector_env(env_id: str, num_envs: int, **kwargs) -> CoreVectorEnv:
    """The native batched vector environment of a registered id (kwargs override its defaults)."""
    if env_id not in _REGISTRY:
        raise gym.error.UnregisteredEnv(f"{env_id!r} is not a lowcarbon env; known: {ENV_IDS}")
    cls, defaults = _REGISTRY[env_id]
    return CoreVectorEnv(cls, num_envs, **{**defaults, **kwargs})


def _vector_entry(env_cls: type[CoreEnv], defaults: dict):
    def make(num_envs: int = 1, **kwargs) -> CoreVectorEnv:
        return CoreVectorEnv(env_cls, num_envs, **{**defaults, **kwargs})

    return make


for _id, (_cls, _defaults) in _REGISTRY.items():
    if _id not in gym.registry:
        gym.register(
            id=_id,
            entry_point=f"{_cls.__module__}:{_cls.__name__}",
            vector_entry_point=_vector_entry(_cls, _defaults),
            kwargs=_defaults,
            disable_env_checker=False,
        )
