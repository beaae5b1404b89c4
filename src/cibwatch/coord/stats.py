"""Significance against chance and the OSoMe weight. See docs/coordination.md for the null model."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def conditional_poisson_p(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """P(X ≥ observed | X ≥ 1) for X ~ Poisson(expected).

    Only pairs with at least one co-action are ever tested (the join finds no others), so the
    p-value is conditioned on that selection; BH over the tested pairs is then valid.
    """
    observed = np.asarray(observed, dtype=float)
    expected = np.maximum(np.asarray(expected, dtype=float), 1e-300)
    from scipy import stats  # here, not at import: scipy.stats costs every CLI command a second

    log_tail = stats.poisson.logsf(observed - 1, expected)
    log_selected = np.log(-np.expm1(-expected))
    return np.clip(np.exp(log_tail - log_selected), 0.0, 1.0)


def support_chance(expected: np.ndarray, alpha: float, min_shared: int) -> np.ndarray:
    """P(a tested pair is *supported*: p ≤ alpha and ≥ min_shared items) if it acts independently.

    p falls as the count rises, so a pair is supported exactly when its count reaches
    c = max(min_shared, the smallest count with p ≤ alpha); the chance is p(c) ≤ alpha.

    >>> support_chance(np.array([0.01, 1.0]), 0.01, 3).round(5).tolist()
    [2e-05, 0.00579]
    """
    mu = np.maximum(np.asarray(expected, dtype=float), 1e-300)
    count = np.full(mu.shape, float(min_shared))
    chance = conditional_poisson_p(count, mu)
    # Most tested pairs expect little: their critical count is min_shared or a step or two above.
    todo = np.flatnonzero(chance > alpha)
    for _ in range(8):
        if todo.size == 0:
            break
        count[todo] += 1
        chance[todo] = conditional_poisson_p(count[todo], mu[todo])
        todo = todo[chance[todo] > alpha]
    if todo.size:
        # sf(n - 1) ≤ alpha × P(X ≥ 1)  ⇔  n - 1 ≥ isf(alpha × P(X ≥ 1)) for a discrete law.
        from scipy import stats

        critical = stats.poisson.isf(alpha * -np.expm1(-mu[todo]), mu[todo]) + 1
        chance[todo] = conditional_poisson_p(np.maximum(critical, count[todo]), mu[todo])
    return np.where(np.asarray(expected) > 0, chance, 0.0)


def benjamini_hochberg(p_values: np.ndarray, n_tests: int | None = None) -> np.ndarray:
    """Benjamini–Hochberg q-values (step-up, monotone), in the input order.

    ``n_tests``: the number of tests when ``p_values`` holds only the smallest of them (all
    those ≤ some cut-off); q-values at or below the cut-off are then exact.
    """
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return p.copy()
    m = p.size if n_tests is None else n_tests
    if m < p.size:
        raise ValueError(f"n_tests ({m}) is smaller than the number of p-values ({p.size})")
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, p.size + 1)
    q_sorted = np.minimum.accumulate(scaled[::-1])[::-1]
    q = np.empty(p.size)
    q[order] = np.minimum(q_sorted, 1.0)
    return q


def tfidf_cosine(
    acc: np.ndarray,
    item: np.ndarray,
    tf: np.ndarray,
    pairs_a: np.ndarray,
    pairs_b: np.ndarray,
    chunk: int = 200_000,
) -> np.ndarray:
    """Cosine of TF-IDF account vectors (OSoMe) for the given account pairs.

    ``acc``/``item``/``tf``: how often each account acted on each item (one row per pair).
    idf = log(n_accounts / accounts on the item), so an item everyone acts on weighs nothing.
    """
    if len(pairs_a) == 0:
        return np.zeros(0)
    n_acc = int(max(acc.max(), pairs_a.max(), pairs_b.max())) + 1
    n_item = int(item.max()) + 1
    df = np.bincount(item, minlength=n_item)
    active = len(np.unique(acc))
    idf = np.log(active / np.maximum(df, 1))
    matrix = sp.csr_matrix((tf * idf[item], (acc, item)), shape=(n_acc, n_item))
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    matrix = sp.diags(inv) @ matrix
    out = np.empty(len(pairs_a))
    for start in range(0, len(pairs_a), chunk):
        sl = slice(start, start + chunk)
        out[sl] = np.asarray(matrix[pairs_a[sl]].multiply(matrix[pairs_b[sl]]).sum(axis=1)).ravel()
    return np.clip(out, 0.0, 1.0)
