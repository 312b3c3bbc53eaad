"""HTML and Markdown rendering of a ReportData (jinja2 templates, Chart.js inlined)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jinja2

from .model import ReportData

CHART_JS = "chart.umd.min.js"


def _static(name: str) -> str:
    return (resources.files(__package__) / "static" / name).read_text(encoding="utf-8")


def _inline_js(source: str) -> str:
    """Script text safe to inline: no source-map fetch, and no premature ``</script>``."""
    lines = [ln for ln in source.splitlines() if not ln.startswith("//# sourceMappingURL=")]
    return "\n".join(lines).replace("</script", "<\\/script")


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader(__package__, "templates"),
                             autoescape=jinja2.select_autoescape(["html.j2"], default_for_string=True),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["pretty"] = lambda v: json.dumps(v, indent=1, sort_keys=True, default=str)
    env.filters["num"] = _num
    return env


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def html(data: ReportData) -> str:
    return _env().get_template("report.html.j2").render(
        r=data, chart_js=_inline_js(_static(CHART_JS)), app_js=_inline_js(_static("charts.js")),
        css=_static("report.css"))


def markdown(data: ReportData) -> str:
    return _env().get_template("summary.md.j2").render(r=data)
