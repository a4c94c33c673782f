"""The GDM agent's hyperparameters, declared once: the config, the Hydra schema and the defaults of
:class:`~lowcarbon.agents.gdm.DiffusionActor` and :class:`~lowcarbon.agents.gdm.GDM`."""

from __future__ import annotations

from dataclasses import dataclass

from ..networks import TwinCriticConfig


@dataclass
class GDMConfig(TwinCriticConfig):
    """Hyperparameters of the GDM agent (defaults: Diffusion-QL / GDMOPT where they apply);
    widths, activation, learning rates, tau, gamma and n-step come from
    :class:`~lowcarbon.agents.networks.TwinCriticConfig`."""

    steps: int = 5
    """Denoising steps T (1 to 20). GDMOPT found 6 converged fastest, the TMC 2026 follow-up 3."""
    schedule: str = "vp"
    """Beta schedule: ``vp``, ``linear`` or ``cosine`` (see ``lowcarbon.agents.gdm.schedule``)."""
    time_dim: int = 16
    """Size of the diffusion-step embedding."""
    q_weight: float = 1.0
    """Mode 1, Q-gradient through the chain: weight of the normalised Q term (0 disables)."""
    max_entropy: bool = True
    """Mode 2, maximum entropy: learned final noise with an entropy temperature."""
    alpha: float = 0.05
    """Initial (auto_alpha) or fixed temperature of mode 2."""
    auto_alpha: bool = True
    """Tune the temperature towards ``target_entropy``."""
    target_entropy: float | None = None
    """Entropy target in nats; ``None``: ``-dim(A)``."""
    alpha_lr: float = 3e-4
    """Adam learning rate of ``log alpha``."""
    init_log_sigma: float = -1.0
    """Initial log scale of the final noise (mode 2)."""
    bc_weight: float = 0.0
    """Mode 3, behaviour cloning on ``info['expert_action']``: weight (0 disables)."""
    eval_mode: str = "deterministic"
    """Acting outside training: ``deterministic``, ``stochastic`` or ``best_of_n``."""
    eval_candidates: int = 16
    """N of best-of-N evaluation."""
