"""Pure parts of `cluster switch-mode` (argument checks, the ConfigMap edit) and of the proxy
restart scenario (kube-proxy's last-sync metric, the keep-alive analysis)."""

from __future__ import annotations

import pytest

from proxylab.convergence import Sample
from proxylab.errors import ClusterError, InvalidArgument, UnknownMode, UnsupportedMode
from proxylab.modes import ProxyMode, all_modes
from proxylab.modes.kubeproxy import KubeProxyMode, parse_last_sync, set_proxier
from proxylab.perf import keepalive
from proxylab.switchmode import check_switch

KIND_CONF = """apiVersion: kubeproxy.config.k8s.io/v1alpha1
iptables:
  masqueradeAll: false
  minSyncPeriod: 1s
kind: KubeProxyConfiguration
metricsBindAddress: 0.0.0.0:10249
mode: iptables
nftables:
  minSyncPeriod: 0s
"""


def _kube_proxy_modes() -> list[KubeProxyMode]:
    return [m for m in all_modes() if isinstance(m, KubeProxyMode) and not m.config]


def _replacement() -> ProxyMode:
    return next(m for m in all_modes() if not m.uses_kube_proxy)


def test_set_proxier_changes_only_the_top_level_mode() -> None:
    out = set_proxier(KIND_CONF, "nftables")
    assert out == KIND_CONF.replace("mode: iptables", "mode: nftables")
    assert set_proxier(out, "iptables") == KIND_CONF


def test_set_proxier_adds_a_missing_mode_and_refuses_ambiguity() -> None:
    assert set_proxier("kind: KubeProxyConfiguration\n", "nftables").endswith("\nmode: nftables\n")
    with pytest.raises(ClusterError, match="2 top-level mode"):
        set_proxier("mode: a\nmode: b\n", "nftables")
    with pytest.raises(ValueError):
        set_proxier(KIND_CONF, "ipt\nables")


def test_switch_refuses_an_unknown_mode() -> None:
    with pytest.raises(UnknownMode, match="valid modes"):
        check_switch(_kube_proxy_modes()[0], "bogus")


def test_switch_refuses_the_same_mode() -> None:
    mode = _kube_proxy_modes()[0]
    with pytest.raises(InvalidArgument, match="already runs"):
        check_switch(mode, mode.value.upper())


def test_switch_refuses_to_and_from_a_kube_proxy_replacement() -> None:
    ebpf, kp = _replacement(), _kube_proxy_modes()[0]
    with pytest.raises(UnsupportedMode, match="does not run kube-proxy"):
        check_switch(kp, ebpf.value)
    with pytest.raises(UnsupportedMode, match="CNI and kube-proxy replacement"):
        check_switch(ebpf, kp.value)


def test_switch_refuses_configured_variants() -> None:
    variant = next(m for m in all_modes() if isinstance(m, KubeProxyMode) and m.config)
    base = next(m for m in _kube_proxy_modes() if m.proxier is variant.proxier)
    with pytest.raises(UnsupportedMode, match="extra settings"):
        check_switch(base, variant.value)
    with pytest.raises(UnsupportedMode, match="extra settings"):
        check_switch(variant, base.value)


def test_switch_between_plain_proxiers_depends_only_on_the_host() -> None:
    for a in _kube_proxy_modes():
        for b in _kube_proxy_modes():
            if a is b:
                continue
            ok, _ = b.host_support()
            if ok:
                assert check_switch(a, b.value) is b
            else:
                with pytest.raises(UnsupportedMode, match="this host cannot run it"):
                    check_switch(a, b.value)


def test_parse_last_sync_takes_the_oldest_family() -> None:
    text = ("# TYPE kubeproxy_sync_proxy_rules_last_timestamp_seconds gauge\n"
            'kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family="IPv4"} 1.7960737827882304e+09\n'
            'kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family="IPv6"} 1.7960737802737446e+09\n')
    assert parse_last_sync(text) == pytest.approx(1796073780.2737446)
    assert parse_last_sync("kubeproxy_sync_proxy_rules_last_timestamp_seconds 0\n") == 0.0
    assert parse_last_sync("other_metric 5\n") is None


def test_analyse_counts_failures_and_the_longest_gap() -> None:
    samples = [Sample(0, "a"), Sample(100, "b"), Sample(200, "!refused"), Sample(300, "!timeout"),
               Sample(1300, "a"), Sample(1400, "a")]
    d = keepalive.analyse(samples, change_ms=150)
    assert d.failed == 2 and d.failed_by_kind == {"refused": 1, "timeout": 1}
    assert d.longest_gap_s == 1.2  # 100 -> 1300
    assert d.last_failure_s == 0.15


def test_analyse_a_series_ending_in_failures_gaps_to_its_end() -> None:
    d = keepalive.analyse([Sample(0, "a"), Sample(100, "!reset"), Sample(900, "!reset")], change_ms=0)
    assert d.longest_gap_s == 0.9 and d.failed == 2


def test_long_lived_connection_survival() -> None:
    same = [[0, "a", 5000], [100, "a", 5000], [200, "a", 5000], [300, "a", 5000]]
    assert keepalive.survived(same, change_ms=150, after_ms=250)
    assert not keepalive.survived(same, change_ms=150, after_ms=400)  # nothing seen after the resync
    reconnected = [[0, "a", 5000], [100, "a", 5000], [200, "!reset", 0], [300, "b", 5001]]
    assert not keepalive.survived(reconnected, change_ms=150, after_ms=250)
    assert keepalive.connections(reconnected) == [5000, 5001]
    silently_reopened = [[0, "a", 5000], [200, "a", 5002], [300, "a", 5002]]
    assert not keepalive.survived(silently_reopened, change_ms=150, after_ms=250)


def test_the_keepalive_client_is_valid_python_emitting_known_kinds() -> None:
    compile(keepalive.CLIENT, "keepalive-client", "exec")
    from proxylab import failures

    for literal in ("timeout", "refused", "reset", "unreachable", "bad_answer", "other:"):
        assert literal in keepalive.CLIENT
        assert failures.is_kind(literal + ("x" if literal.endswith(":") else ""))
