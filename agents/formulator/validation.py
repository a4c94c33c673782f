"""Layer 4 of the formulator's validation: solve a sample instance with the env's oracle.

The spec becomes an env, one seeded day is drawn, the family's perfect-foresight oracle
(:class:`lowcarbon.envs.OraclePolicy`, HiGHS) plans it and the plan is replayed in the env. A
problem the env cannot build, or whose program HiGHS cannot solve, fails here with the solver's
message; a feasible one reports the day's optimal return and its carbon, so the user sees at once
what the best any policy can do is.
"""

from __future__ import annotations

import inspect
import math
import time

from lowcarbon.envs.suite import entry

from .compile import FormulationError
from .spec import LayerResult, OracleCheck, ProblemSpec

__all__ = ["oracle_check"]


def oracle_check(spec: ProblemSpec, seed: int = 0, time_limit_s: float = 15.0) -> ProblemSpec:
    """Solve day ``seed`` of ``spec``'s env with its oracle and record the result in the spec
    (``spec.oracle`` and an ``oracle`` validation layer). A mixed-integer oracle stops after
    ``time_limit_s`` with its best plan (feasible; ``gap`` says how far from proven optimal).
    Raises :class:`FormulationError` (layer ``"oracle"``) when the env cannot be built or the
    solve fails."""
    start = time.perf_counter()
    try:
        env = spec.make_env()
        env.reset(seed=seed)
        core = env.unwrapped.core
        oracle = entry(spec.env_id).family.oracle
        limit = (
            {"time_limit": time_limit_s}
            if "time_limit" in inspect.signature(oracle).parameters
            else {}
        )
        plan = oracle(core, 0, **limit)
        total, co2, done = 0.0, 0.0, False
        while not done:
            _, reward, terminated, truncated, info = env.step(plan.action(core))
            total += float(reward)
            co2 += float(info.get("co2_kg", 0.0))
            done = terminated or truncated
        env.close()
    except Exception as err:  # the env's or the solver's own message is the useful one
        raise FormulationError("oracle", [f"{type(err).__name__}: {err}"]) from err
    seconds = time.perf_counter() - start
    value = float(plan.value)
    bound = float(getattr(plan, "bound", value))
    gap = abs(bound - value) / max(abs(bound), 1e-9) if math.isfinite(bound) else float("nan")
    if not math.isfinite(value):
        raise FormulationError("oracle", [f"the oracle returned a non-finite value {value}"])
    # the plan is the optimum the env attains when its replay matches (within HiGHS's gap)
    replayed = math.isclose(total, value, rel_tol=1e-4, abs_tol=1e-4)
    spec.oracle = OracleCheck(
        seed=seed,
        value=value,
        replayed=total,
        gap=gap,
        exact=replayed and gap <= 1e-6,  # HiGHS stops at a relative gap of 1e-6 when proving
        co2_kg=co2,
        seconds=seconds,
    )
    spec.validation = [v for v in spec.validation if v.layer != "oracle"]
    spec.validation.append(LayerResult(layer="oracle", ok=True))
    return spec
