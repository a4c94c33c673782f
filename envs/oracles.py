"""What every oracle of the suite shares: a small MILP/LP builder over HiGHS and the policy that
replays a plan.

Each environment family plans a whole episode with perfect foresight in its own ``oracle``
module (exact where the env's action space can express every plan of the program, an upper
bound otherwise, as each one documents). :class:`OraclePolicy` asks the suite registry for the
family's oracle at ``reset`` and then replays the plan step by step.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from .policy import Policy

logger = logging.getLogger(__name__)


class OracleError(RuntimeError):
    """HiGHS did not return an optimal solution."""


class Program:
    """A (mixed-integer) linear program assembled block by block and *maximised* with HiGHS.

    ``variables`` allocates a block of columns (returning their indices in the requested shape),
    ``constraints`` a block of rows ``lo <= A x <= hi``, and ``coefficients`` adds entries of
    ``A`` (repeated (row, column) pairs add up). Keeping the bookkeeping here lets each oracle
    read as its model.
    """

    def __init__(self) -> None:
        self.n_vars = 0
        self.n_rows = 0
        self._lb: list[np.ndarray] = []
        self._ub: list[np.ndarray] = []
        self._gain: list[np.ndarray] = []
        self._int: list[np.ndarray] = []
        self._lo: list[np.ndarray] = []
        self._hi: list[np.ndarray] = []
        self._r: list[np.ndarray] = []
        self._c: list[np.ndarray] = []
        self._v: list[np.ndarray] = []
        #: constant added to the objective (terms that no decision changes)
        self.offset = 0.0
        #: after :meth:`solve`, an upper bound on the optimum (HiGHS's dual bound for a MIP)
        self.bound = float("nan")

    def variables(
        self,
        shape: int | tuple[int, ...],
        lb: Any = 0.0,
        ub: Any = np.inf,
        gain: Any = 0.0,
        integer: bool = False,
    ) -> np.ndarray:
        """Allocate ``prod(shape)`` columns with bounds and objective gains (broadcast)."""
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        n = int(np.prod(shape))
        idx = self.n_vars + np.arange(n)
        self.n_vars += n
        self._lb.append(np.broadcast_to(np.asarray(lb, float), shape).reshape(-1))
        self._ub.append(np.broadcast_to(np.asarray(ub, float), shape).reshape(-1))
        self._gain.append(np.broadcast_to(np.asarray(gain, float), shape).reshape(-1))
        self._int.append(np.full(n, 1 if integer else 0))
        return idx.reshape(shape)

    def constraints(
        self, lo: Any, hi: Any, shape: int | tuple[int, ...] | None = None
    ) -> np.ndarray:
        """Allocate rows ``lo <= row <= hi`` (broadcast to ``shape``, default ``lo``'s shape)."""
        if shape is None:
            shape = np.broadcast(np.asarray(lo), np.asarray(hi)).shape
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        n = int(np.prod(shape))
        idx = self.n_rows + np.arange(n)
        self.n_rows += n
        self._lo.append(np.broadcast_to(np.asarray(lo, float), shape).reshape(-1))
        self._hi.append(np.broadcast_to(np.asarray(hi, float), shape).reshape(-1))
        return idx.reshape(shape)

    def coefficients(self, rows: Any, cols: Any, values: Any = 1.0) -> None:
        """Add ``values`` at (``rows``, ``cols``) of the constraint matrix (broadcast)."""
        r, c, v = np.broadcast_arrays(np.asarray(rows), np.asarray(cols), np.asarray(values, float))
        self._r.append(r.reshape(-1))
        self._c.append(c.reshape(-1))
        self._v.append(v.reshape(-1))

    def storage(
        self,
        soc: np.ndarray,
        charge: np.ndarray,
        discharge: np.ndarray,
        soc0: np.ndarray,
        eta_c: float,
        eta_d: float,
        dt: float,
    ) -> np.ndarray:
        """Battery rows ``soc_t = soc_{t-1} + (eta_c charge_t - discharge_t / eta_d) dt`` for
        ``(T, n)`` blocks of state of charge (kWh, end of slot) and power (kW), starting from
        ``soc0`` (n,); returns the rows."""
        init = np.zeros(soc.shape)
        init[0] = soc0
        rows = self.constraints(init, init)
        self.coefficients(rows, soc)
        self.coefficients(rows[1:], soc[:-1], -1.0)
        self.coefficients(rows, charge, -eta_c * dt)
        self.coefficients(rows, discharge, dt / eta_d)
        return rows

    def solve(
        self, mip_rel_gap: float = 1e-6, time_limit: float = 120.0
    ) -> tuple[np.ndarray, float]:
        """Solve; returns the solution and its objective value (``offset`` included).

        A MIP stops at a relative gap of ``mip_rel_gap`` (1e-6 of the objective: the value is
        then within that of the optimum, and ``bound`` holds HiGHS's proof, an upper bound) or
        at ``time_limit`` seconds with the best plan found (logged with its gap).
        """
        cat = lambda parts: np.concatenate(parts) if parts else np.zeros(0)  # noqa: E731
        gain = cat(self._gain)
        a = sp.csr_array(
            (cat(self._v), (cat(self._r).astype(np.int64), cat(self._c).astype(np.int64))),
            shape=(self.n_rows, self.n_vars),
        )
        res = milp(
            c=-gain,
            integrality=cat(self._int),
            bounds=Bounds(cat(self._lb), cat(self._ub)),
            constraints=LinearConstraint(a, cat(self._lo), cat(self._hi)) if self.n_rows else (),
            options={"mip_rel_gap": mip_rel_gap, "time_limit": time_limit},
        )
        if res.x is None or res.status not in (0, 1):
            raise OracleError(f"HiGHS did not solve the oracle's program: {res.message}")
        value = float(-res.fun) + self.offset
        dual = getattr(res, "mip_dual_bound", None)
        self.bound = float(-dual) + self.offset if dual is not None else value
        if res.status == 1:
            logger.warning("oracle stopped at its time limit with a gap of %.3g (value %.6g, "
                           "bound %.6g)", self.bound - value, value, self.bound)  # fmt: skip
        return res.x, value


class OraclePolicy(Policy):
    """Acts by replaying the family oracle's perfect-foresight plan of the episode.

    :meth:`reset` (after each ``env.reset``) solves the plan; ``bound`` is then its value, the
    return that no policy beats (HiGHS's proof of optimality, within its gap, is
    ``plan.bound``); each :meth:`act` returns the plan's action for the current slot.
    """

    name = "oracle"

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        from .suite import entry

        self._oracle = entry(self.env).family.oracle
        self.plan: Any = None
        self.bound = float("nan")

    def reset(self) -> None:
        if self.core.t != 0:
            raise ValueError("the oracle plans from the start of an episode: call it after reset")
        self.plan = self._oracle(self.core, 0)
        self.bound = float(self.plan.value)

    def act(self, obs: np.ndarray | None = None) -> np.ndarray:
        if self.plan is None:
            raise RuntimeError("call reset() after env.reset() before act()")
        return np.asarray(self.plan.action(self.core), dtype=np.float64)
