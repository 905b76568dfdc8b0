"""Token-length distributions: fixed, log-normal, or empirical (quantile knots), and their spec strings.

Three shapes, one class (:class:`LengthDist`), so everything that carries lengths (demand, sizing,
scenarios) takes any of them:

- **fixed**: every request has ``mean`` tokens (``sigma == 0``, no knots). Today's default.
- **log-normal**: ``mean`` is the arithmetic mean and ``sigma`` the standard deviation of the
  logarithm (the long right tail of chat prompts and answers); ``median``/``p90`` give the same
  two parameters another way (``sigma = ln(p90 / median) / z90``, ``mean = median · e^(σ²/2)``).
- **empirical**: published quantiles (``p0`` = min, ``p10``, ``p50``, ``p90``, ``p99``, ``p100`` =
  max, or any others) joined by the inverse CDF. Between two knots ``a <= b`` the join is a power
  mean, ``((1 - t)·a^λ + t·b^λ)^(1/λ)`` for ``t`` from 0 to 1 (``λ = 0``: geometric, ``λ = 1``:
  linear); lengths are right-skewed, so linear joins over-state the mean. A sourced mean is met
  exactly by the one ``λ`` (``power``) for all segments that gives it: the knots stay exact and
  the density finite, only the shape between knots moves. A raw sample list is the same thing
  with one knot per sample.

Every sample is rounded and clipped to ``[low, high]``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from onshore.planner.errors import PlannerError

IntArray = npt.NDArray[np.int64]
Z90 = 1.2815515655446004  # standard normal 90th percentile
_GRID = (np.arange(8192) + 0.5) / 8192  # midpoints: the empirical mean by quadrature


@dataclass(frozen=True, slots=True)
class LengthDist:
    """Token-length distribution: fixed (``sigma == 0``), log-normal with mean ``mean``, or empirical.

    Empirical when ``knots_p`` (cumulative probabilities from 0 to 1) and ``knots_v`` (lengths) are
    given; ``mean`` is then the distribution's own mean (computed, see :func:`empirical`).
    """

    mean: float
    sigma: float = 0.0
    low: int = 1
    high: int = 131072
    knots_p: tuple[float, ...] = ()
    knots_v: tuple[float, ...] = ()
    power: float = 0.0  # empirical: the power-mean exponent of the joins between knots

    @property
    def kind(self) -> str:
        return "empirical" if self.knots_p else ("lognormal" if self.sigma > 0 else "fixed")

    def describe(self) -> str:
        """The spec string that gives this distribution back (see :func:`parse_dist`)."""
        if self.kind == "fixed":
            return f"fixed:{self.mean:g}"
        if self.kind == "lognormal":
            return f"lognormal:mean={self.mean:g},sigma={self.sigma:g},max={self.high}"
        knots = ",".join(f"p{100 * p:g}={v:g}" for p, v in zip(self.knots_p, self.knots_v, strict=True))
        return f"empirical:{knots},mean={self.mean:.6g}"

    def capped(self, high: int) -> LengthDist:
        """The same distribution with samples clipped at ``high`` (a KV-capacity or context cap)."""
        return replace(self, high=min(self.high, high))

    def sample(self, rng: np.random.Generator, n: int) -> IntArray:
        if self.mean < 1:
            raise PlannerError(f"token length mean must be >= 1, got {self.mean}")
        if self.knots_p:
            values = _inverse_cdf(self, rng.random(n))
        elif self.sigma <= 0:
            values = np.full(n, self.mean)
        else:
            mu = np.log(self.mean) - self.sigma**2 / 2.0
            values = rng.lognormal(mu, self.sigma, n)
        out: IntArray = np.clip(np.rint(values), self.low, self.high).astype(np.int64)
        return out


def _inverse_cdf(
    d: LengthDist, u: npt.NDArray[np.float64], power: float | None = None
) -> npt.NDArray[np.float64]:
    lam = d.power if power is None else power
    p, v = np.asarray(d.knots_p), np.asarray(d.knots_v)
    i = np.clip(np.searchsorted(p, u, side="right") - 1, 0, len(p) - 2)
    width = p[i + 1] - p[i]
    t = np.clip(np.where(width > 0, (u - p[i]) / np.where(width > 0, width, 1.0), 0.0), 0.0, 1.0)
    a, b = v[i], v[i + 1]
    if abs(lam) < 1e-9:
        out: npt.NDArray[np.float64] = np.exp(np.log(a) + t * (np.log(b) - np.log(a)))
    else:
        out = ((1.0 - t) * a**lam + t * b**lam) ** (1.0 / lam)
    return out


def _knot_mean(d: LengthDist, power: float) -> float:
    return float(np.clip(np.rint(_inverse_cdf(d, _GRID, power)), d.low, d.high).mean())


def fixed(tokens: float) -> LengthDist:
    if tokens < 1:
        raise PlannerError(f"a fixed length must be >= 1, got {tokens}")
    return LengthDist(float(tokens))


def lognormal(mean: float, sigma: float, high: int = 131072) -> LengthDist:
    if mean < 1 or sigma < 0:
        raise PlannerError(f"log-normal needs mean >= 1 and sigma >= 0, got mean={mean}, sigma={sigma}")
    return LengthDist(float(mean), float(sigma), 1, int(high))


def lognormal_quantiles(median: float, p90: float, high: int = 131072) -> LengthDist:
    """The log-normal with this median and 90th percentile."""
    if not 1 <= median <= p90:
        raise PlannerError(f"log-normal needs 1 <= median <= p90, got median={median}, p90={p90}")
    sigma = math.log(p90 / median) / Z90
    return lognormal(median * math.exp(sigma**2 / 2), sigma, high)


def empirical(quantiles: Mapping[float, float], mean: float | None = None) -> LengthDist:
    """Inverse CDF through ``{probability: length}`` knots (0 and 1 included), with mean ``mean`` if given.

    Without ``mean`` the joins are geometric. Raises PlannerError when the knots decrease or no
    power-mean join of these knots has mean ``mean``.
    """
    pairs = sorted((float(p), float(v)) for p, v in quantiles.items())
    ps, vs = [p for p, _ in pairs], [v for _, v in pairs]
    if len(pairs) < 2 or ps[0] != 0.0 or ps[-1] != 1.0:
        raise PlannerError("empirical lengths need knots at p0 (the minimum) and p100 (the maximum)")
    if any(b < a for a, b in pairwise(vs)) or vs[0] < 1:
        raise PlannerError("empirical length knots must be >= 1 and not decrease with the percentile")
    d = LengthDist(1.0, 0.0, 1, math.ceil(vs[-1]), tuple(ps), tuple(vs))
    power = 0.0 if mean is None else _solve_power(d, float(mean))
    return replace(d, power=power, mean=_knot_mean(d, power))


def _solve_power(d: LengthDist, target: float) -> float:
    """The join exponent giving mean ``target`` (power means grow with the exponent)."""
    lo, hi = -8.0, 8.0
    if not _knot_mean(d, lo) <= target <= _knot_mean(d, hi):
        raise PlannerError(f"no distribution through these quantiles has mean {target:g}")
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if _knot_mean(d, mid) > target else (mid, hi)
    return (lo + hi) / 2


def from_samples(values: Sequence[float]) -> LengthDist:
    """The empirical distribution of observed lengths (one knot per distinct sorted sample)."""
    v = np.sort(np.asarray(values, dtype=np.float64))
    if v.size < 2:
        raise PlannerError("an empirical distribution needs at least 2 samples")
    return empirical(dict(zip(np.linspace(0.0, 1.0, v.size).tolist(), v.tolist(), strict=True)))


_ITEM = re.compile(r"^\s*([a-z0-9_.]+)\s*=\s*([0-9.eE+-]+)\s*$")


def parse_dist(spec: str) -> LengthDist:
    """A distribution from its spec (items separated by ``,``, ``;`` or spaces):

    ``870`` or ``fixed:870``; ``lognormal:mean=870,sigma=0.8``; ``lognormal:median=784,p90=1479``
    (``max=N`` caps either); ``empirical:p0=79,p10=391,p50=784,p90=1479,p99=2118,p100=2540`` with
    an optional ``mean=870.7`` the knots are bent to.
    """
    text = spec.strip().lower()
    kind, _, rest = text.partition(":") if ":" in text else ("fixed", "", text)
    if kind == "fixed" and "=" not in rest:
        return fixed(_number(rest, spec))
    items: dict[str, float] = {}
    for part in filter(None, re.split(r"[,;\s]+", rest)):
        m = _ITEM.match(part)
        if not m:
            raise PlannerError(f"length distribution {spec!r}: {part!r} is not key=number")
        items[m.group(1)] = _number(m.group(2), spec)
    high = int(items.pop("max", 131072))
    if kind == "fixed" and set(items) == {"value"}:
        return fixed(items["value"])
    if kind == "lognormal" and set(items) == {"mean", "sigma"}:
        return lognormal(items["mean"], items["sigma"], high)
    if kind == "lognormal" and set(items) == {"median", "p90"}:
        return lognormal_quantiles(items["median"], items["p90"], high)
    if kind == "empirical" and items:
        mean = items.pop("mean", None)
        if not all(re.fullmatch(r"p[0-9.]+", k) for k in items):
            raise PlannerError(f"length distribution {spec!r}: empirical takes pNN=tokens knots and mean=")
        return empirical({float(k[1:]) / 100: v for k, v in items.items()}, mean).capped(high)
    raise PlannerError(
        f"length distribution {spec!r}: use N, fixed:N, lognormal:mean=M,sigma=S, "
        "lognormal:median=M,p90=P or empirical:p0=..,p50=..,p100=..[,mean=M]"
    )


def _number(text: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise PlannerError(f"length distribution {spec!r}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise PlannerError(f"length distribution {spec!r}: {text!r} is not a finite number")
    return value
