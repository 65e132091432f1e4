"""The validation split, decided once for ``Sequential.fit`` and every task pipeline."""

from __future__ import annotations


def held_out_count(n: int, fraction: float, owner: str = "fit") -> int:
    """How many of ``n`` samples ``validation_split=fraction`` holds out, as Keras: the last
    ``int(n * fraction)`` samples, taken before any shuffling. 0 when ``fraction`` is 0.

    >>> held_out_count(25000, 0.05)
    1250
    """
    if not fraction:
        return 0
    n_val = int(n * fraction)
    if n_val == 0 or n_val == n:
        raise ValueError(
            f"{owner}: `validation_split` {fraction} leaves {n - n_val} training and "
            f"{n_val} validation samples of {n}; both must be at least 1."
        )
    return n_val


def split_last(fraction: float, *arrays, owner: str = "fit"):
    """``(train parts..., validation parts...)`` of equally long ``arrays``: the last
    :func:`held_out_count` items of each are the validation part.

    >>> split_last(0.25, [1, 2, 3, 4], "abcd")
    ([1, 2, 3], 'abc', [4], 'd')
    """
    n_val = held_out_count(len(arrays[0]), fraction, owner)
    n_train = len(arrays[0]) - n_val
    return (*(a[:n_train] for a in arrays), *(a[n_train:] for a in arrays))
