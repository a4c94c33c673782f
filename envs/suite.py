"""One registry of the suite: each environment id with everything built around it.

An :class:`EnvFamily` keeps together what belongs to one environment class: its oracle, its
rule-based policies, its QoS metric and its action encoder (a physical decision -> an action
vector). A :class:`SuiteEntry` is one registered id: a family plus the constructor arguments of
that instance (the default, a larger one, one on real traces). Rules, evaluation and the harness
ask this registry and never branch on an environment's type or id.

Adding an environment is one new package under ``envs/`` (env, oracle, rules) that exports a
``FAMILY``, plus one line per id in :data:`SUITE`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .core import BatchedCore, CoreEnv
from .policy import Policy


class Plan(Protocol):
    """A perfect-foresight plan of one episode, made at its start by an env family's oracle."""

    #: the plan's return: exact optimum, or an upper bound where documented
    value: float

    def action(self, core: BatchedCore) -> np.ndarray:
        """The plan's action at the core's current slot, shape ``(act_dim,)``."""
        ...


@dataclass(frozen=True)
class QoS:
    """The quality-of-service figure reported beside return and carbon."""

    key: str  # an info key of the env
    aggregate: str  # "mean" or "sum" over the steps of an episode
    higher_is_better: bool = True

    def __post_init__(self) -> None:
        if self.aggregate not in ("mean", "sum"):
            raise ValueError(f"aggregate must be 'mean' or 'sum', got {self.aggregate!r}")

    def reduce(self, values: list[float]) -> float:
        return float(np.sum(values) if self.aggregate == "sum" else np.mean(values))


@dataclass(frozen=True)
class EnvFamily:
    """What is built around one environment class (see the module docstring)."""

    env_cls: type[CoreEnv]
    #: ``oracle(core, b)`` plans copy ``b`` of ``core`` from the start of its episode
    oracle: Callable[[Any, int], Plan]
    #: rule-based policies by name; every family has ``carbon_greedy`` and ``latency_greedy``
    rules: Mapping[str, type[Policy]]
    qos: QoS
    #: ``encode(core, decision) -> (batch, act_dim)`` actions the step decodes back to decision
    encode: Callable[..., np.ndarray]


@dataclass(frozen=True)
class SuiteEntry:
    """One registered environment id."""

    id: str
    family: EnvFamily
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    summary: str = ""


def _entries() -> list[SuiteEntry]:
    # imported here: the env packages import core and policy, which must not import them back
    from . import data_center, energy_internet, metaverse_offload

    mv, dc, ei = metaverse_offload.FAMILY, data_center.FAMILY, energy_internet.FAMILY
    return [
        SuiteEntry("LowCarbon/MetaverseOffload-v1", mv, {},
                   "mobile AIGC offloading: 4 VR users, 3 edge sites, 15-min slots, one day"),
        SuiteEntry("LowCarbon/MetaverseOffload-Large-v1", mv, metaverse_offload.LARGE,
                   "the same with 12 users and 6 edge sites"),
        SuiteEntry("LowCarbon/MetaverseOffload-CAISO-v1", mv, metaverse_offload.CAISO,
                   "edge sites on real CAISO marginal emission rates (July 2019)"),
        SuiteEntry("LowCarbon/DataCenter-v1", dc, {},
                   "3 data centres: deferrable batch work and cooling, hourly, one day"),
        SuiteEntry("LowCarbon/DataCenter-Large-v1", dc, data_center.LARGE,
                   "the same with 8 sites"),
        SuiteEntry("LowCarbon/EnergyInternet-v1", ei, {},
                   "4 prosumers with PV, wind, batteries and EVs behind a feeder, hourly"),
        SuiteEntry("LowCarbon/EnergyInternet-Large-v1", ei, energy_internet.LARGE,
                   "the same with 16 prosumers"),
    ]  # fmt: skip


SUITE: dict[str, SuiteEntry] = {}


def _load() -> dict[str, SuiteEntry]:
    if not SUITE:
        SUITE.update({e.id: e for e in _entries()})
    return SUITE


def suite() -> dict[str, SuiteEntry]:
    """Every registered id and its entry, in registration order."""
    return _load()


def default_ids() -> tuple[str, ...]:
    """The default instance of each family (the ids a benchmark reports first)."""
    return tuple(i for i in _load() if "-Large-" not in i and "-CAISO-" not in i)


def entry(env_or_id: Any) -> SuiteEntry:
    """The suite entry of an id, a ``gym.Env`` (wrapped or not) or a core.

    Raises ``KeyError`` for anything outside the suite.
    """
    entries = _load()
    if isinstance(env_or_id, str):
        if env_or_id not in entries:
            raise KeyError(f"{env_or_id!r} is not a lowcarbon env; known: {tuple(entries)}")
        return entries[env_or_id]
    env = env_or_id.unwrapped if hasattr(env_or_id, "unwrapped") else env_or_id
    spec = getattr(env, "spec", None)
    if spec is not None and spec.id in entries:
        return entries[spec.id]
    for e in entries.values():  # an env built from its class, or a bare core
        if isinstance(env, e.family.env_cls) or isinstance(env, e.family.env_cls.core_cls):
            return e
    raise KeyError(f"{type(env).__name__} is not an environment of the lowcarbon suite")


def in_suite(env_or_id: Any) -> bool:
    """Whether :func:`entry` knows ``env_or_id``."""
    try:
        entry(env_or_id)
    except KeyError:
        return False
    return True
