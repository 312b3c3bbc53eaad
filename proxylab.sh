#!/usr/bin/env bash
# proxylab from a bare machine: sets up what the harness needs, then runs the CLI.
#
#   ./proxylab.sh run        the main job (every supported mode: cluster, suites, results)
#   ./proxylab.sh test       the test command: unit tests + e2e suites on every supported mode
#   ./proxylab.sh ARGS...    any other `proxylab` command (doctor, images build, cluster ...)
#
# Steps, each skipped when already done: a virtualenv in .venv with proxylab installed; as root on
# a Debian-like host, `proxylab doctor --fix` (Docker engine, runtime wrapper); `proxylab images
# build` (pull when a registry answers, else build from pinned sources; cached by content).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
venv="$here/.venv"
py="${PYTHON:-python3}"

say() { printf '[proxylab.sh %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

stamp="$venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  say "creating $venv and installing proxylab with its dependencies"
  "$py" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -e ".[dev]"
  touch "$stamp"
fi
proxylab="$venv/bin/proxylab"

needs_host=1
case "${1:-}" in
  ""|-h|--help|doctor|modes) needs_host=0 ;;
esac
if [ "$needs_host" = 1 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    "$proxylab" doctor --fix >&2 || { say "host is not ready (see doctor above)"; exit 1; }
  else
    "$proxylab" doctor >&2 || { say "host is not ready; run as root for --fix, or follow doctor's advice"; exit 1; }
  fi
  case "${1:-} ${2:-}" in
    "run "*|"test "*|"cluster up") "$proxylab" images build ;;
  esac
fi

if [ "${1:-}" = test ]; then
  shift
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! command -v chromium >/dev/null; then
    say "installing Debian's chromium for the report's browser test"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
  fi
  export PROXYLAB_RUN_ID="${PROXYLAB_RUN_ID:-test-$(date -u +%Y%m%d-%H%M%S)}"
  envs="$("$proxylab" modes --testable --tox-envs)"
  say "test run $PROXYLAB_RUN_ID: tox envs $envs"
  exec "$venv/bin/tox" -e "$envs" -- "$@"
fi
exec "$proxylab" "$@"
