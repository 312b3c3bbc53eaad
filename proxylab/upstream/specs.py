"""Which upstream `[sig-network] Services` specs exist, which proxylab runs, and their short ids.

The list of specs of the pinned Kubernetes version is checked in (``services-specs.txt``, written by
`proxylab upstream specs --write` from the built e2e.test's dry run). The suite parametrizes its
tests from that file, so every spec is a test record of its own in results.json, and a
Kubernetes bump that adds, removes or renames a spec is reported (the list check fails, naming
them) instead of being silently dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ProxylabError

FOCUS = r"\[sig-network\] Services "
SPEC_LIST = Path(__file__).with_name("services-specs.txt")


class SpecListError(ProxylabError):
    """The checked-in spec list is missing, unreadable, or not the built binary's."""


@dataclass(frozen=True)
class Skip:
    """A class of specs proxylab does not run, with why (shown in results.json and the report)."""

    pattern: str  # Python regex searched in the spec's full text
    reason: str


SKIPS: tuple[Skip, ...] = (
    Skip(r"\[Disruptive\]", "[Disruptive]: restarts kube-proxy or the API server under every other test; "
                            "upstream runs these alone, and the nightly's shared cluster cannot"),
    Skip(r"\[Serial\]|SCTP", "[Serial] SCTP spec: needs the whole cluster to itself and the sctp kernel "
                             "module, which this harness does not load"),
    Skip(r"Type LoadBalancer", "needs a LoadBalancer controller; kind clusters have none"),
)

# A fixed subset for the README's test command (CI): one or two specs per data-plane behaviour the
# behaviour map compares, the fast ones (measured: each under ~40 s on iptables), so CI gets an
# upstream verdict on every mode without the whole set's ~10 minutes.
CI_SUBSET: tuple[str, ...] = (
    "should-serve-a-basic-endpoint-from-pods",
    "should-serve-multiport-endpoints-from-pods",
    "should-preserve-source-pod-ip-for-traffic-thru-service-cluster-ip",
    "should-allow-pods-to-hairpin-back-to-themselves-through-services",
    "should-be-rejected-when-no-endpoints-exist",
    "should-have-session-affinity-work-for-service-with-type-clusterip",
    "should-respect-internaltrafficpolicy-local-pod-to-pod",
    "should-be-able-to-create-a-functioning-nodeport-service",
    "should-support-named-targetports-that-resolve-to-different-ports-on-different-endpoints",
)

_TAG = re.compile(r"\s*\[[A-Za-z][^\]]*\]")


@dataclass(frozen=True)
class Spec:
    """One upstream spec by its full text, as ginkgo matches it ("[sig-network] Services should ...")."""

    text: str

    @property
    def slug(self) -> str:
        """Short stable id: the leaf text without the describe prefix and [Tags], lowercase, dashed."""
        leaf = self.text.removeprefix("[sig-network] Services ")
        leaf = _TAG.sub("", leaf)
        return re.sub(r"[^a-z0-9]+", "-", leaf.lower()).strip("-")

    @property
    def tags(self) -> list[str]:
        return [t.strip(" []") for t in _TAG.findall(self.text.removeprefix("[sig-network] Services "))]

    def skip_reason(self) -> str | None:
        for skip in SKIPS:
            if re.search(skip.pattern, self.text):
                return skip.reason
        return None


def read_spec_list(path: Path = SPEC_LIST) -> tuple[str, list[Spec]]:
    """(Kubernetes version the list is of, specs) from the checked-in list."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise SpecListError(f"cannot read the upstream spec list {path}: {exc.strerror}; "
                            "write it with `proxylab upstream specs --write`") from None
    version = next((ln.split("kubernetes", 1)[1].strip() for ln in lines if ln.startswith("# kubernetes")), "")
    specs = [Spec(ln.rstrip()) for ln in lines if ln.strip() and not ln.startswith("#")]
    if not version or not specs:
        raise SpecListError(f"{path} has no '# kubernetes <version>' line or no specs; "
                            "write it again with `proxylab upstream specs --write`")
    slugs = [s.slug for s in specs]
    twice = sorted({s for s in slugs if slugs.count(s) > 1})
    if twice:
        raise SpecListError(f"{path}: specs share a short id: {', '.join(twice)}")
    return version, specs


def write_spec_list(version: str, texts: Iterable[str], path: Path = SPEC_LIST) -> None:
    body = "\n".join(sorted({t.rstrip() for t in texts}))
    path.write_text(f"# Upstream `[sig-network] Services` specs of e2e.test (its dry run), one per line.\n"
                    f"# Written by `proxylab upstream specs --write`; suites/upstream parametrizes from it.\n"
                    f"# kubernetes {version}\n{body}\n")


def by_slug(specs: Sequence[Spec]) -> dict[str, Spec]:
    return {s.slug: s for s in specs}


def list_differences(checked_in: Sequence[str], built: Sequence[str]) -> tuple[list[str], list[str]]:
    """(specs the binary has that the list lacks, specs the list has that the binary lacks)."""
    ours, theirs = {t.rstrip() for t in checked_in}, {t.rstrip() for t in built}
    return sorted(theirs - ours), sorted(ours - theirs)


@dataclass(frozen=True)
class Outcome:
    """One spec's outcome in a ginkgo JSON report."""

    text: str
    state: str  # ginkgo's: passed, skipped, pending, failed, panicked, timedout, interrupted, aborted
    seconds: float
    message: str  # the failure or skip message (empty when passed)
    process: int  # the ginkgo parallel process that ran it

    @property
    def verdict(self) -> str:
        """proxylab's verdict: passed, skipped (skipped/pending) or failed (everything else)."""
        if self.state == "passed":
            return "passed"
        return "skipped" if self.state in ("skipped", "pending") else "failed"


def outcomes_from_report(report: object) -> list[Outcome]:
    """Every `It` of a ginkgo JSON report (``--json-report``: a list of suite reports)."""
    if not isinstance(report, list):
        raise SpecListError("a ginkgo JSON report is a list of suite reports")
    found = []
    for suite in report:
        for spec in suite.get("SpecReports") or []:
            if spec.get("LeafNodeType") != "It":
                continue
            text = " ".join([*spec.get("ContainerHierarchyTexts", []), spec.get("LeafNodeText", "")])
            failure = spec.get("Failure") or {}
            message = str(failure.get("Message") or "")
            if failure.get("Location", {}).get("FileName"):
                message += f" ({Path(failure['Location']['FileName']).name}:{failure['Location'].get('LineNumber')})"
            found.append(Outcome(text=text, state=str(spec.get("State", "")),
                                 seconds=round(int(spec.get("RunTime") or 0) / 1e9, 3), message=message.strip(),
                                 process=int(spec.get("ParallelProcess") or 0)))
    return found


def load_report(path: Path) -> list[Outcome]:
    try:
        return outcomes_from_report(json.loads(path.read_text()))
    except (OSError, ValueError) as exc:
        raise SpecListError(f"cannot read ginkgo's report {path}: {exc}") from None


def focus_regex(specs: Iterable[Spec]) -> str:
    """A Go (RE2) regex matching exactly these specs' full texts.

    Go's regexp rejects escapes of non-punctuation (Python's re.escape escapes spaces), so only
    the metacharacters are escaped here. Trailing blanks (two upstream leaf texts end in one)
    are matched loosely, so the checked-in list may hold them stripped. Not anchored at the start:
    ginkgo matches against the text with the suite's description in front ("Kubernetes e2e suite
    [sig-network] Services ...", measured: a ``^`` anchor selects nothing)."""
    def escape(text: str) -> str:
        return re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", text)

    return r"(^|\s)(" + "|".join(escape(s.text.rstrip()) + r"\s*" for s in specs) + ")$"
