"""Deterministic choices by customer key: the same customers are sampled or held out on every run.

Each key is hashed once (SipHash-2-4 with a fixed key, pandas.util.hash_array: vectorised, the
same on every run and platform), then each purpose (a salt: "clv_fit", "churn_holdout", ...)
mixes that hash with its own constant through the splitmix64 finaliser, so the choices of two
purposes are independent of each other and of the row order. A key's bucket in [0, BUCKETS)
decides: a sample of about `limit` keys takes the buckets below a cut-off.
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt
import pandas as pd

BUCKETS = 10_000
# the 16-character SipHash key of pandas.util.hash_array (any fixed value: it only has to stay)
_HASH_KEY = "segments:predict"
UInt64Array = npt.NDArray[np.uint64]
Int64Array = npt.NDArray[np.int64]


def key_hashes(customer_keys: pd.Series) -> UInt64Array:
    """A 64-bit hash of each key (as text), independent of its position."""
    values = np.asarray(customer_keys.astype(str), dtype=object)
    hashes: UInt64Array = pd.util.hash_array(values, hash_key=_HASH_KEY, categorize=False)
    return hashes


def salted_buckets(hashes: UInt64Array, salt: str) -> Int64Array:
    """Each hash mixed with the salt (splitmix64 finaliser), reduced to a bucket in [0, BUCKETS)."""
    constant = np.uint64(int.from_bytes(hashlib.md5(salt.encode(), usedforsecurity=False).digest()[:8], "big"))
    with np.errstate(over="ignore"):
        mixed = hashes ^ constant
        mixed = (mixed ^ (mixed >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        mixed = (mixed ^ (mixed >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        mixed = mixed ^ (mixed >> np.uint64(31))
    buckets: Int64Array = (mixed % np.uint64(BUCKETS)).astype(np.int64)
    return buckets


def key_buckets(customer_keys: pd.Series, salt: str) -> Int64Array:
    """A bucket in [0, BUCKETS) per key for this salt: independent of row order."""
    return salted_buckets(key_hashes(customer_keys), salt)


def mask_below(buckets: Int64Array, limit: int) -> npt.NDArray[np.bool_]:
    """About `limit` of the keys whose buckets are given (all of them when there are fewer)."""
    count = buckets.size
    if count <= limit:
        return np.ones(count, dtype=bool)
    cut = int(np.ceil(BUCKETS * limit / count))
    mask: npt.NDArray[np.bool_] = buckets < cut
    return mask


def sample_mask(customer_keys: pd.Series, limit: int, salt: str) -> npt.NDArray[np.bool_]:
    """About `limit` keys chosen by bucket (all of them when there are fewer), the same on every run."""
    if len(customer_keys) <= limit:
        return np.ones(len(customer_keys), dtype=bool)
    return mask_below(key_buckets(customer_keys, salt), limit)
