"""Hydra structured configs: the schemas that the yaml files of ``conf/agent`` and ``conf/env``
extend, so a yaml holds only what differs from the defaults and a misspelled key fails when the
config is composed, naming the key.

* ``agent/schema_<kind>`` for every kind of :data:`lowcarbon.agents.runners.AGENT_KINDS`:
  ``kind``, ``name``, ``algo`` (the kind's algorithm dataclass: ``GDMConfig``, ``SACConfig``,
  SB3's constructor arguments) and ``runner``
  (:class:`~lowcarbon.agents.runners.RunnerConfig`);
* ``env/schema_<package>`` for every env class of the suite, multi-agent ones included:
  ``name``, ``id`` and ``kwargs``, whose fields are those of the env's parameter dataclass.
  Unset fields are ``???`` (missing) and are not passed to the env, so a registered id's own
  arguments (the ``-Large-v1`` sizes) stay in force unless overridden.

Defaults are written once, in those dataclasses; nothing here repeats them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf


@dataclass
class EnvConfig:
    """``env``: a registered id and its constructor arguments (free for ``env=gym``)."""

    name: str = MISSING
    """Short name: output folders, W&B tags, report rows."""
    id: str = MISSING
    """Registered Gymnasium id."""
    kwargs: Any = field(default_factory=dict)
    """Constructor arguments; ``???`` (unset) entries are left to the env."""


def env_kwargs_schema(params_cls: type) -> type:
    """A dataclass with one ``Any`` field per field of ``params_cls``, all unset (``???``)."""
    fields = [(f.name, Any, field(default=MISSING)) for f in dataclasses.fields(params_cls)]
    return dataclasses.make_dataclass(f"{params_cls.__name__}Kwargs", fields)


def agent_schema(kind: str) -> type:
    """The structured config of agent ``kind``: kind, name, algo and runner."""
    from lowcarbon.agents.runners import AGENT_KINDS, RunnerConfig

    algo_cls = AGENT_KINDS[kind].algo_config(kind)
    return dataclasses.make_dataclass(f"{kind}_agent", [
        ("kind", str, field(default=kind)),
        ("name", str, field(default=kind)),
        ("algo", algo_cls, field(default_factory=algo_cls)),
        ("runner", RunnerConfig, field(default_factory=RunnerConfig)),
    ])  # fmt: skip


def env_kwargs(env: DictConfig) -> dict[str, Any]:
    """The constructor arguments of ``env`` (a composed ``env`` node) that are set."""
    kwargs = env.kwargs
    values = OmegaConf.to_container(kwargs, resolve=True)
    return {k: values[k] for k in kwargs if not OmegaConf.is_missing(kwargs, k)}


def register() -> None:
    """Store every schema in Hydra's ConfigStore (idempotent)."""
    from lowcarbon.agents.runners import AGENT_KINDS
    from lowcarbon.envs.suite import suite

    cs = ConfigStore.instance()
    for kind in AGENT_KINDS:
        cs.store(group="agent", name=f"schema_{kind}", node=agent_schema(kind))
    cs.store(group="env", name="schema_gym", node=EnvConfig)
    from lowcarbon.envs.multiagent import multiagent_suite

    classes = [e.family.env_cls for e in suite().values()]
    classes += [e.env_cls for e in multiagent_suite().values()]
    for env_cls in dict.fromkeys(classes):
        package = env_cls.__module__.split(".")[-2]  # lowcarbon.envs.<package>.env
        kwargs_cls = env_kwargs_schema(env_cls.params_cls)
        schema = dataclasses.make_dataclass(
            f"{env_cls.__name__}Config",
            [("kwargs", kwargs_cls, field(default_factory=kwargs_cls))],
            bases=(EnvConfig,),
        )
        cs.store(group="env", name=f"schema_{package}", node=schema)
