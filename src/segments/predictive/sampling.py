"""Deterministic choices by customer key: the same customers are sampled or held out on every run."""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt
import pandas as pd

BUCKETS = 10_000


def key_buckets(customer_keys: pd.Series, salt: str) -> npt.NDArray[np.int64]:
    """A bucket in [0, BUCKETS) per key from its md5 with the salt: independent of row order."""
    values = [
        int.from_bytes(hashlib.md5(f"{salt}:{key}".encode(), usedforsecurity=False).digest()[:8], "big") % BUCKETS
        for key in customer_keys.astype(str)
    ]
    return np.asarray(values, dtype=np.int64)


def sample_mask(customer_keys: pd.Series, limit: int, salt: str) -> npt.NDArray[np.bool_]:
    """About `limit` keys chosen by bucket (all of them when there are fewer), the same on every run."""
    count = len(customer_keys)
    if count <= limit:
        return np.ones(count, dtype=bool)
    buckets = key_buckets(customer_keys, salt)
    cut = int(np.ceil(BUCKETS * limit / count))
    mask: npt.NDArray[np.bool_] = buckets < cut
    return mask
