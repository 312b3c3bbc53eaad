"""The chart spec: the JSON the report embeds for ``static/charts.js`` (the only reader), typed.

A spec is plain JSON (so what is charted can be unit-tested without a browser); these TypedDicts
say which keys ``charts.js`` reads, so Python and JavaScript agree on them.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict


class Axis(TypedDict):
    title: str
    type: NotRequired[Literal["linear", "category"]]  # x only; charts.js reads y's title


class Point(TypedDict):
    x: float
    y: float


class Band(TypedDict):
    """One K's 95 % interval, drawn as a shaded band around a curve."""

    x: float
    lo: float
    hi: float


class Dataset(TypedDict):
    label: str  # the mode (its colour) or another series name
    data: list[Point] | list[float | None]  # points on a linear x axis, or one value per category label
    interval: NotRequired[list[Band]]


class ChartSpec(TypedDict):
    id: str  # the canvas id
    title: str
    type: Literal["line", "bar"]
    x: Axis
    y: Axis
    labels: NotRequired[list[str]]  # category charts
    datasets: list[Dataset]
    note: NotRequired[str]  # shown under the title
