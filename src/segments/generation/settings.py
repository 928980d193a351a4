"""What to generate, and the calendar of its history window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from segments.generation.plant import PlantedLift

from segments.generation.parameters import (
    CUSTOMERS_PER_BLOCK,
    DEFAULT_CHUNK_CUSTOMERS,
    PEAK_SEASON_MONTHS,
    PEAK_SEASON_WEIGHT,
    WEEKEND_WEIGHT,
)

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]
Codes = npt.NDArray[np.int8]
Array = npt.NDArray[Any]


@dataclass(frozen=True)
class Settings:
    customers: int
    seed: int
    end_date: date
    days: int
    shift_date: date | None
    shift_purchase_factor: float
    plant_lift: PlantedLift | None = None  # --plant-lift (segments.generation.plant)
    chunk_customers: int = DEFAULT_CHUNK_CUSTOMERS

    @property
    def start_date(self) -> date:
        return self.end_date - timedelta(days=self.days - 1)

    @property
    def start_epoch(self) -> int:
        """Unix seconds of the first moment of history (UTC)."""
        start = self.start_date
        return int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp())

    @property
    def blocks(self) -> int:
        """Blocks of CUSTOMERS_PER_BLOCK customers (the last one may be smaller)."""
        return -(-self.customers // CUSTOMERS_PER_BLOCK)

    @property
    def blocks_per_chunk(self) -> int:
        """--chunk-customers rounded up to whole blocks."""
        return max(1, -(-self.chunk_customers // CUSTOMERS_PER_BLOCK))

    def block_size(self, block: int) -> int:
        return min(CUSTOMERS_PER_BLOCK, self.customers - block * CUSTOMERS_PER_BLOCK)


def day_weights(settings: Settings) -> Floats:
    """Relative purchase weight of each day of history: weekends and the peak season."""
    days = [settings.start_date + timedelta(days=offset) for offset in range(settings.days)]
    return np.array(
        [
            (WEEKEND_WEIGHT if day.weekday() >= 5 else 1.0)
            * (PEAK_SEASON_WEIGHT if day.month in PEAK_SEASON_MONTHS else 1.0)
            for day in days
        ]
    )


def sample_days(rng: np.random.Generator, cumulative: Floats, first: Ints, last: Ints) -> Ints:
    """A day in [first, last] per row, drawn with the seasonal day weights."""
    low = np.where(first > 0, cumulative[np.maximum(first - 1, 0)], 0.0)
    high = cumulative[last]
    targets = low + rng.random(len(first)) * (high - low)
    days: Ints = np.minimum(np.searchsorted(cumulative, targets, side="right"), last)
    return days


def weighted_days(cumulative: Floats, first: Ints, last: Ints) -> Floats:
    """Days in [first, last], each counted by its seasonal weight over the mean weight."""
    low = np.where(first > 0, cumulative[np.maximum(first - 1, 0)], 0.0)
    days: Floats = (cumulative[last] - low) / (cumulative[-1] / len(cumulative))
    return days


STAGES = ("people", "accounts", "orders", "lines", "shift", "web", "app", "email", "erasures", "details", "defects")


def stream(seed: int, stage: str, block: int) -> np.random.Generator:
    """The random stream of one stage in one block of customers: a stage draws the same numbers
    whatever another stage drew (a shift of purchases changes orders and nothing else), and a
    block the same numbers whatever chunk it is simulated in."""
    return np.random.default_rng([seed, STAGES.index(stage), block])


def choice_codes(rng: np.random.Generator, shares: dict[str, float], size: int) -> Codes:
    """A 0-based code per row, drawn with the given shares (in the dict's order)."""
    probabilities = np.array(list(shares.values()))
    codes: Codes = rng.choice(len(shares), size=size, p=probabilities / probabilities.sum()).astype(np.int8)
    return codes


def within(rng: np.random.Generator, low_high: tuple[int, int], size: int) -> Ints:
    """Uniform integers in [low, high)."""
    values: Ints = rng.integers(low_high[0], low_high[1], size)
    return values
