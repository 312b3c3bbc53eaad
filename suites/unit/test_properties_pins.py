"""Property: pins are read or refused with an InvalidPins naming the file, table and key; a
version that is not a version ("latest") never gets past loading."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxylab.errors import InvalidPins
from proxylab.versions import PINS_FILE, Pins, parse_pins, read_pins

from .props import DELETE, paths_in, props, replaced

PINS = tomllib.loads(PINS_FILE.read_text())
TOML_VALUES = (st.text(max_size=12) | st.sampled_from(["latest", "main", "v1.2", "v1.34.4", "1.26", "", " "])
               | st.integers(-3, 3) | st.booleans() | st.floats(allow_nan=False)
               | st.lists(st.text(max_size=3), max_size=2) | st.dictionaries(st.text(max_size=3), st.text(max_size=3),
                                                                            max_size=2))


@st.composite
def mutated_pins(draw: st.DrawFn) -> Any:
    data: Any = PINS
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from([p for p in paths_in(data) if p]))
        data = replaced(data, path, draw(st.just(DELETE) | TOML_VALUES))
    return data


def _accepted(pins: Pins) -> None:
    assert pins.kubernetes_minor >= 0 and pins.staging_version.startswith("v0.")
    for key, value in pins.as_dict().items():
        assert isinstance(value, str) and value
        assert key == "debian" or "latest" not in value, f"{key} = {value!r} is not a version"  # a suite is a name
    assert pins.section_hash("kubernetes", "kind")


@props(300)
@given(mutated_pins())
def test_mutated_pins_load_or_name_table_and_key(data: Any) -> None:
    try:
        pins = parse_pins(data, "pins.toml")
    except InvalidPins as exc:
        assert re.match(r"pins\.toml: (table )?\[\w+\]", str(exc)), str(exc)
        return
    _accepted(pins)


@props(200)
@given(text=st.text(max_size=200) | st.sampled_from([PINS_FILE.read_text()]).flatmap(
    lambda t: st.integers(0, len(t)).map(lambda n: t[:n])))
def test_any_file_content_loads_or_names_the_file(text: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    path: Path = tmp_path_factory.mktemp("pins") / "pins.toml"
    path.write_text(text)
    try:
        pins = read_pins(path)
    except InvalidPins as exc:
        assert str(exc).startswith(f"{path}: "), str(exc)
        return
    _accepted(pins)
