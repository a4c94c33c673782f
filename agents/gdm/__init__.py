"""The generative-diffusion-model (GDM) agent on Tianshou 2.x.

* :mod:`.schedule`: DDPM noise schedules (``vp``, ``linear``, ``cosine``);
* :mod:`.networks`: the denoiser and the reverse chain (:class:`DiffusionActor`);
* :mod:`.policy`: acting (:class:`GDMPolicy`, a Tianshou ``Policy``);
* :mod:`.algorithm`: learning (:class:`GDM`, an off-policy Tianshou ``Algorithm``) and its loss;
* :mod:`.config`: :class:`GDMConfig`, every hyperparameter and its default, declared once;
* :mod:`.factory`: :func:`make_gdm` from a :class:`GDMConfig`.
"""

from .algorithm import GDM, GDMTrainingStats
from .config import GDMConfig
from .factory import make_gdm
from .networks import ActorOutput, Denoiser, DiffusionActor
from .policy import EVAL_MODES, GDMPolicy
from .schedule import SCHEDULES, DiffusionSchedule

__all__ = [
    "EVAL_MODES",
    "GDM",
    "SCHEDULES",
    "ActorOutput",
    "Denoiser",
    "DiffusionActor",
    "DiffusionSchedule",
    "GDMConfig",
    "GDMPolicy",
    "GDMTrainingStats",
    "make_gdm",
]
