"""Student's t distribution for whole degrees of freedom: its CDF in closed form, and its quantiles."""

from __future__ import annotations

import math


def t_cdf(t: float, df: int) -> float:
    """P(T <= t) for T ~ Student t with df degrees of freedom (Abramowitz & Stegun 26.7.3 and 26.7.4)."""
    if df < 1 or int(df) != df:
        raise ValueError(f"degrees of freedom must be a whole number >= 1, got {df}")
    df = int(df)  # 9.0 is 9 degrees of freedom
    theta = math.atan(t / math.sqrt(df))
    cos2, sin = math.cos(theta) ** 2, math.sin(theta)
    if df == 1:
        return 0.5 + theta / math.pi
    # sum over k of the terms cos^(k-1) * (k-1)!!/k!! of the series, odd or even df
    first = 3 if df % 2 else 2
    term = total = 1.0
    for k in range(first, df, 2):
        term *= cos2 * (k - 1) / k
        total += term
    if df % 2:
        probability = (2 / math.pi) * (theta + sin * math.cos(theta) * total)
    else:
        probability = sin * total
    return 0.5 + probability / 2


def t_quantile(p: float, df: int) -> float:
    """The t with P(T <= t) = p, by bisection of t_cdf (to 1e-12 relative)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must lie strictly between 0 and 1, got {p}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        low, high = high, 2.0 * high
    while high - low > 1e-12 * high:
        middle = (low + high) / 2
        low, high = (middle, high) if t_cdf(middle, df) < p else (low, middle)
    return (low + high) / 2
