"""Padding of variable-length sequences, as ``keras.utils.pad_sequences``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _validation as V

__all__ = ["pad_sequences"]

OWNER = "pad_sequences"


def pad_sequences(
    sequences: Sequence[Sequence[Any]],
    maxlen: int | None = None,
    dtype: Any = "int32",
    padding: str = "pre",
    truncating: str = "pre",
    value: Any = 0,
) -> np.ndarray:
    """Pad (and truncate) sequences to a common length.

    Behaves like ``keras.utils.pad_sequences`` (Keras 2 and 3).

    Parameters
    ----------
    sequences : sequence of sequences
        A list (or other sized collection) of sequences; each sequence is a
        list, tuple or array. Elements may themselves be arrays of a common
        shape (the shape of the first non-empty sequence's elements).
    maxlen : int, optional
        Length of the output. ``None`` uses the length of the longest
        sequence.
    dtype : str or numpy dtype, default "int32"
        dtype of the output. Use ``object`` to pad variable-length strings.
    padding : {"pre", "post"}, default "pre"
        Pad before or after each sequence.
    truncating : {"pre", "post"}, default "pre"
        Drop values from the beginning (``"pre"``) or the end (``"post"``) of
        sequences longer than ``maxlen``.
    value : scalar or str, default 0
        Padding value.

    Returns
    -------
    numpy.ndarray
        Shape ``(len(sequences), maxlen) + sample_shape``.

    Raises
    ------
    ValueError
        If ``padding`` or ``truncating`` is not ``"pre"``/``"post"``, an
        element of ``sequences`` has no length, a sequence's elements have a
        different shape from the first non-empty one's, ``maxlen`` is
        negative, or ``value`` is a str while ``dtype`` is neither ``object``
        nor a string dtype.

    Notes
    -----
    Where Keras fails on degenerate input this function returns the obvious
    array instead: an empty ``sequences`` gives shape ``(0, maxlen or 0)``
    (Keras raises from ``np.max`` of an empty list), and ``maxlen=0`` gives
    shape ``(n, 0)`` (Keras raises a broadcasting error for
    ``truncating="pre"``). Invalid ``padding`` is reported even when every
    sequence is empty (Keras only checks it while copying values).

    Examples
    --------
    >>> pad_sequences([[1], [2, 3], [4, 5, 6]])
    array([[0, 0, 1],
           [0, 2, 3],
           [4, 5, 6]], dtype=int32)
    >>> pad_sequences([[1], [2, 3], [4, 5, 6]], maxlen=2, padding="post", truncating="post")
    array([[1, 0],
           [2, 3],
           [4, 5]], dtype=int32)
    """
    if not hasattr(sequences, "__len__") or isinstance(sequences, (str, bytes)):
        V.fail(OWNER, "sequences", "a list (or other sized collection) of sequences", sequences)
    if not isinstance(padding, str) or padding not in ("pre", "post"):
        V.fail(OWNER, "padding", "'pre' or 'post'", padding)
    if not isinstance(truncating, str) or truncating not in ("pre", "post"):
        V.fail(OWNER, "truncating", "'pre' or 'post'", truncating)
    if maxlen is not None:
        if isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)):
            V.fail(OWNER, "maxlen", "None or an integer >= 0", maxlen, TypeError)
        if maxlen < 0:
            V.fail(OWNER, "maxlen", "None or an integer >= 0", maxlen)
        maxlen = int(maxlen)

    lengths = []
    sample_shape: tuple[int, ...] = ()
    found_sample = False
    for position, seq in enumerate(sequences):
        try:
            length = len(seq)
        except TypeError:
            raise ValueError(
                f"{OWNER}: `sequences` expected sequences, received {V.describe(seq)} at "
                f"position {position}, which has no length."
            ) from None
        lengths.append(length)
        if length and not found_sample:
            sample_shape = _as_array(seq, None, position).shape[1:]
            found_sample = True
    if maxlen is None:
        maxlen = max(lengths, default=0)

    out_dtype = np.dtype(dtype)
    if (
        isinstance(value, str)
        and out_dtype != np.dtype(object)
        and not np.issubdtype(out_dtype, np.str_)
    ):
        raise ValueError(
            f"{OWNER}: `value` expected a value dtype {dtype!r} can hold (use dtype=object for "
            f"variable-length strings), received {value!r}."
        )

    if not _is_scalar(value):
        V.fail(OWNER, "value", "a scalar", value)
    try:
        out = np.full((len(lengths), maxlen) + tuple(sample_shape), value, dtype=dtype)
    except (ValueError, TypeError, OverflowError):
        V.fail(OWNER, "value", f"a value dtype {str(out_dtype)!r} can hold", value)
    if maxlen == 0:
        return out
    for position, (seq, length) in enumerate(zip(sequences, lengths)):
        if not length:
            continue
        try:
            kept = seq[-maxlen:] if truncating == "pre" else seq[:maxlen]
        except (TypeError, KeyError, IndexError, ValueError):
            raise ValueError(
                f"{OWNER}: `sequences` expected sequences, received {V.describe(seq)} at "
                f"position {position}, which cannot be sliced."
            ) from None
        kept = _as_array(kept, dtype, position)
        if kept.ndim == 0:
            raise ValueError(
                f"{OWNER}: `sequences` expected sequences, received {V.describe(seq)} at "
                f"position {position}, whose values have no length."
            )
        if kept.shape[1:] != sample_shape:
            raise ValueError(
                f"{OWNER}: `sequences` expected elements of shape {sample_shape} (those of the "
                f"first non-empty sequence), received shape {kept.shape[1:]} at position "
                f"{position}."
            )
        if padding == "post":
            out[position, : len(kept)] = kept
        else:
            out[position, -len(kept) :] = kept
    return out


def _as_array(seq, dtype, position: int) -> np.ndarray:
    """``np.asarray(seq, dtype)``, with numpy's conversion errors as this module's ValueError."""
    try:
        return np.asarray(seq, dtype=dtype)
    except (ValueError, TypeError, OverflowError) as e:
        raise ValueError(
            f"{OWNER}: `sequences` expected sequences of values dtype {str(np.dtype(dtype))!r} "
            f"can hold, received at position {position} values it cannot ({e})."
        ) from None


def _is_scalar(value) -> bool:
    try:
        return np.ndim(value) == 0
    except ValueError:  # a ragged nested list
        return False
