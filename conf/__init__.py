"""Hydra configuration of the lowcarbon harness (``config_path="pkg://lowcarbon.conf"``).

Importing it registers the OmegaConf resolvers the configs use and the structured configs
(:mod:`lowcarbon.conf.schemas`) that the yaml files extend.
"""

import re

from omegaconf import OmegaConf

OmegaConf.register_new_resolver(
    "sanitize", lambda s: re.sub(r"[^A-Za-z0-9_.-]+", "_", str(s)), replace=True
)

from .schemas import register  # noqa: E402

register()
