"""``edge_offload_v0``: metaverse service providers sharing edge sites, PettingZoo style.

``parallel_env(**kwargs)`` is the :class:`~lowcarbon.envs.edge_offload.EdgeOffloadEnv`
(a PettingZoo ``ParallelEnv``; its docstring is the specification), ``env(**kwargs)`` the same
game as an AEC env (PettingZoo's ``parallel_to_aec``), ``raw_env`` the class. Keyword arguments
are the fields of :class:`~lowcarbon.envs.edge_offload.EdgeOffloadParams` plus ``max_cycles``.
"""

from __future__ import annotations

from .edge_offload import EdgeOffloadEnv as raw_env
from .multiagent import pettingzoo_constructors

env, parallel_env = pettingzoo_constructors(raw_env)

__all__ = ["env", "parallel_env", "raw_env"]
