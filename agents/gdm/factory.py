"""One-call construction of the GDM agent from a :class:`~lowcarbon.agents.gdm.GDMConfig`."""

from __future__ import annotations

import gymnasium as gym

from ..networks import FusedAdamFactory, activation_class, space_dims, twin_critic_kwargs
from .algorithm import GDM
from .config import GDMConfig
from .networks import DiffusionActor
from .policy import GDMPolicy


def make_gdm(
    observation_space: gym.Space, action_space: gym.Space, config: GDMConfig | None = None
) -> GDM:
    """Build actor, policy, twin critics, optimisers and the :class:`GDM` algorithm."""
    cfg = config or GDMConfig()
    obs_dim, act_dim = space_dims(observation_space, action_space)
    act_cls = activation_class(cfg.activation)
    actor = DiffusionActor(
        obs_dim,
        act_dim,
        steps=cfg.steps,
        schedule=cfg.schedule,
        hidden_sizes=cfg.hidden_sizes,
        time_dim=cfg.time_dim,
        activation=act_cls,
        final_noise=cfg.max_entropy,
        init_log_sigma=cfg.init_log_sigma,
    )
    policy = GDMPolicy(
        actor=actor,
        action_space=action_space,
        observation_space=observation_space,
        eval_mode=cfg.eval_mode,  # type: ignore[arg-type]
        eval_candidates=cfg.eval_candidates,
    )
    return GDM(
        policy=policy,
        **twin_critic_kwargs(obs_dim, act_dim, cfg),
        q_weight=cfg.q_weight,
        bc_weight=cfg.bc_weight,
        alpha=cfg.alpha if cfg.max_entropy else None,
        auto_alpha=cfg.auto_alpha,
        target_entropy=cfg.target_entropy,
        alpha_optim=FusedAdamFactory(lr=cfg.alpha_lr),
    )
