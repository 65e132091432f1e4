"""Kneser-Ney n-gram language model (interpolated; modified discounts by default), counted with
NumPy: the baseline printed beside the LSTM.

Definitions (Chen & Goodman 1998, "An empirical study of smoothing techniques", sec. 3.5)
----------------------------------------------------------------------------------------
For the highest order ``n`` the count of an n-gram ``h w`` is its raw count ``c(h w)``; for a
lower order ``k < n`` it is its continuation count ``N1+(. h w)``, the number of distinct words
seen before it. With ``den(h) = sum_w count(h w)``::

    P_k(w | h) = max(count(h w) - D(count(h w)), 0) / den(h) + gamma(h) * P_{k-1}(w | h')
    gamma(h)   = (D1 N1(h .) + D2 N2(h .) + D3 N3+(h .)) / den(h)

where ``h'`` is ``h`` without its first word and ``Nj(h .)`` counts the words ``w`` whose
``count(h w)`` is ``j`` (``3+``: at least 3). A context never seen (``den(h) = 0``) hands all
its mass to the lower order. The unigram level interpolates with the uniform distribution over
the vocabulary (``P_0(w) = 1 / V``), so that no word has probability 0; with
``interpolate_unigram=False`` it is ``N1+(. w) / N1+(. .)`` alone, as NLTK's
``KneserNeyInterpolated``.

Discounts: ``modified`` (default) estimates ``D1, D2, D3+`` per order from the counts of counts
``n1 .. n4`` of that order's counts: ``Y = n1 / (n1 + 2 n2)``, ``Dj = j - (j + 1) Y n_{j+1} / n_j``
(each clipped to ``[0.01, j]``); a fixed ``discount`` uses one ``D`` for every count and order
(interpolated Kneser-Ney, NLTK's form).

The text is one stream of token ids (``<eos>`` included, as the LSTM reads it): n-grams run
across sentence ends, and the first token of an evaluated text is predicted from a context
token given by the caller, so both models predict exactly the same tokens.
"""

from __future__ import annotations

import numpy as np

from ... import _validation as V

__all__ = ["KneserNey"]


def _lookup(keys: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Index of each ``query`` in the sorted ``keys``, -1 where absent."""
    pos = np.searchsorted(keys, query)
    pos = np.minimum(pos, len(keys) - 1)
    found = keys[pos] == query if len(keys) else np.zeros(len(query), bool)
    return np.where(found, pos, -1)


class KneserNey:
    """Kneser-Ney n-gram model over token ids ``0 .. vocab_size - 1``.

    >>> import numpy as np
    >>> kn = KneserNey(order=2, discount=0.5).fit(np.array([0, 1, 0, 2, 0, 1]), vocab_size=3)
    >>> round(float(kn.probabilities(np.array([1]), context=np.array([0]))[0]), 4)
    0.5833
    """

    def __init__(
        self, order: int = 5, discount: float | None = None, *, interpolate_unigram: bool = True
    ):
        if isinstance(order, bool) or not isinstance(order, int) or order < 1:
            V.fail("KneserNey", "order", "an integer >= 1", order)
        if discount is not None and not (isinstance(discount, (int, float)) and 0 < discount < 1):
            V.fail(
                "KneserNey",
                "discount",
                "None (modified, estimated) or a number in (0, 1)",
                discount,
            )
        self.order = order
        self.discount = discount
        self.interpolate_unigram = interpolate_unigram

    # -- counting -----------------------------------------------------------------------------
    def fit(self, ids, vocab_size: int) -> KneserNey:
        """Count the n-grams of the training stream ``ids`` (1-D integer array)."""
        x = np.asarray(ids, dtype=np.int64).reshape(-1)
        if x.size == 0:
            raise ValueError("KneserNey.fit: `ids` expected at least one token, received none.")
        if x.min() < 0 or x.max() >= vocab_size:
            V.fail("KneserNey.fit", "ids", f"ids in [0, {vocab_size})", int(x.max()))
        n, L, Vs = self.order, len(x), int(vocab_size)
        self.vocab_size = Vs
        gid = {1: x}  # gid[k][i]: table-k index of the k-gram ending at i (-1: none)
        keys = {1: np.arange(Vs, dtype=np.int64)}
        raw = {1: np.bincount(x, minlength=Vs)}
        for k in range(2, n + 1):
            g = np.full(L, -1, dtype=np.int64)
            if L >= k:
                key = gid[k - 1][k - 2 : L - 1] * Vs + x[k - 1 :]
                uk, inv, cnt = np.unique(key, return_inverse=True, return_counts=True)
                g[k - 1 :] = inv
            else:
                uk, cnt = np.zeros(0, np.int64), np.zeros(0, np.int64)
            gid[k], keys[k], raw[k] = g, uk, cnt
        counts = {n: raw[n]}
        for k in range(1, n):  # continuation counts: distinct words before each k-gram
            above = gid[k + 1][k:]
            if above.size:
                _, first = np.unique(above, return_index=True)
                suffix = gid[k][first + k]
            else:
                suffix = np.zeros(0, np.int64)
            counts[k] = np.bincount(suffix, minlength=len(keys[k]))
        self.keys_ = keys
        self.counts_ = counts
        self.discounts_, self.den_, self.gamma_num_ = {}, {}, {}
        for k in range(1, n + 1):
            c = counts[k]
            D = self._discounts(c)
            self.discounts_[k] = D
            if k == 1:
                ctx, n_ctx = np.zeros(len(c), np.int64), 1
            else:
                ctx, n_ctx = keys[k] // Vs, len(keys[k - 1])
            self.den_[k] = np.bincount(ctx, weights=c, minlength=n_ctx)
            mass = np.select([c == 1, c == 2, c >= 3], [D[0], D[1], D[2]], 0.0)
            self.gamma_num_[k] = np.bincount(ctx, weights=mass, minlength=n_ctx)
        return self

    def _discounts(self, c: np.ndarray) -> tuple[float, float, float]:
        if self.discount is not None:
            return (float(self.discount),) * 3
        nj = [int(np.count_nonzero(c == j)) for j in (1, 2, 3, 4)]
        Y = nj[0] / (nj[0] + 2 * nj[1]) if nj[0] + 2 * nj[1] else 0.5
        out = []
        for j in (1, 2, 3):
            d = j - (j + 1) * Y * nj[j] / nj[j - 1] if nj[j - 1] else Y
            out.append(float(np.clip(d, 0.01, j)))
        return tuple(out)

    # -- probabilities ------------------------------------------------------------------------
    def _require_fitted(self, method: str) -> None:
        if not hasattr(self, "counts_"):
            raise RuntimeError(
                f"KneserNey.{method}: the model is not fitted; call fit(ids, vocab_size)."
            )

    def probabilities(self, ids, context=()) -> np.ndarray:
        """``P(ids[i] | context + ids[:i])`` for every token of the stream ``ids``."""
        self._require_fitted("probabilities")
        n, Vs = self.order, self.vocab_size
        ctx = (
            np.asarray(context, dtype=np.int64).reshape(-1)[-(n - 1) :]
            if n > 1
            else np.zeros(0, np.int64)
        )
        y = np.asarray(ids, dtype=np.int64).reshape(-1)
        if y.size and (y.min() < 0 or y.max() >= Vs):
            V.fail("KneserNey.probabilities", "ids", f"ids in [0, {Vs})", int(y.max()))
        z = np.concatenate([ctx, y])
        off = len(ctx)  # z[off + i] = y[i]
        Lz = len(z)
        gid = {1: z}
        for k in range(2, n):
            g = np.full(Lz, -1, dtype=np.int64)
            if Lz >= k:
                prev = gid[k - 1][k - 2 : Lz - 1]
                found = _lookup(self.keys_[k], np.maximum(prev, 0) * Vs + z[k - 1 :])
                g[k - 1 :] = np.where(prev >= 0, found, -1)
            gid[k] = g
        pos = np.arange(off, Lz)  # where the predicted tokens are in z
        w = z[pos]
        c1 = self.counts_[1][w].astype(float)
        D = self.discounts_[1]
        d1 = np.select([c1 == 1, c1 == 2, c1 >= 3], [D[0], D[1], D[2]], 0.0)
        den1 = self.den_[1][0]
        if self.interpolate_unigram:
            p = (np.maximum(c1 - d1, 0) + self.gamma_num_[1][0] / Vs) / den1
        else:
            p = c1 / den1
        for k in range(2, n + 1):
            cpos = pos - 1
            has = cpos >= k - 2
            c_id = np.where(has, gid[k - 1][np.maximum(cpos, 0)], -1)
            c_id = np.where(c_id >= 0, c_id, -1)
            den = np.where(c_id >= 0, self.den_[k][np.maximum(c_id, 0)], 0.0)
            g_id = _lookup(self.keys_[k], np.maximum(c_id, 0) * Vs + w)
            g_id = np.where(c_id >= 0, g_id, -1)
            cnt = np.where(g_id >= 0, self.counts_[k][np.maximum(g_id, 0)], 0).astype(float)
            D = self.discounts_[k]
            d = np.select([cnt == 1, cnt == 2, cnt >= 3], [D[0], D[1], D[2]], 0.0)
            gnum = np.where(c_id >= 0, self.gamma_num_[k][np.maximum(c_id, 0)], 0.0)
            seen = den > 0
            safe = np.where(seen, den, 1.0)
            p = np.where(seen, (np.maximum(cnt - d, 0) + gnum * p) / safe, p)
        return p

    def perplexity(self, ids, context=()) -> dict:
        """Cross-entropy (nats per token) and perplexity of the stream ``ids``."""
        p = self.probabilities(ids, context)
        if p.size == 0:
            raise ValueError(
                "KneserNey.perplexity: `ids` expected at least one token, received none."
            )
        ce = float(-np.mean(np.log(p)))
        return {"tokens": int(p.size), "cross_entropy": ce, "perplexity": float(np.exp(ce))}
