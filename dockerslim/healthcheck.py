"""A HEALTHCHECK run the way Docker runs it: against the started ENTRYPOINT/CMD.

Running a HEALTHCHECK's command alone in a fresh container tests nothing: ``curl -f
http://localhost:8000/`` fails in the original image too, because no server was started.
Docker starts the container's main process and runs the check beside it, every
``--interval``, until it passes or ``--retries`` consecutive failures after ``--start-period``
mark it unhealthy. ``probe_argv`` turns that into one ``/bin/sh`` script for a single
``builder.run``: start the app in the background, poll the check (every second, so a 30 s
interval does not cost minutes) until it passes, the app exits, or the time Docker would
wait runs out (bounded by ``budget``), then stop the app and exit with the check's status.

Builds with chroot isolation share the host's network, so before starting the app the
check is tried once: if it already passes, something else answers it and the result would
prove nothing (exit ``ANSWERED_ALREADY``).
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping
from typing import Any

NS = 1_000_000_000
DOCKER_INTERVAL = 30.0  # Docker's defaults when the HEALTHCHECK does not say
DOCKER_RETRIES = 3
DEFAULT_BUDGET = 60.0  # seconds verify waits at most for a check to pass
POLL = 1  # seconds between two tries of the check
ANSWERED_ALREADY = 3  # exit code: the check passed before the app was started
APP_EXITED = 4  # exit code: the app stopped before the check passed


def check_argv(config: Mapping[str, Any]) -> list[str] | None:
    """The HEALTHCHECK's command as argv (CMD-SHELL through /bin/sh), None without one."""
    test = list((config.get("Healthcheck") or {}).get("Test") or [])
    if test and test[0] == "CMD-SHELL" and len(test) > 1:
        return ["/bin/sh", "-c", test[1]]
    if test and test[0] == "CMD" and len(test) > 1:
        return test[1:]
    return None  # none, or NONE (switched off)


def app_argv(config: Mapping[str, Any]) -> list[str]:
    """What Docker starts: ENTRYPOINT followed by CMD (each already argv in the image config)."""
    return list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])


def wait_seconds(config: Mapping[str, Any], budget: float = DEFAULT_BUDGET) -> float:
    """How long Docker would take to call the container unhealthy (start period plus retries
    intervals), bounded by ``budget``."""
    hc = config.get("Healthcheck") or {}
    interval = (hc.get("Interval") or 0) / NS or DOCKER_INTERVAL
    docker = (hc.get("StartPeriod") or 0) / NS + interval * (hc.get("Retries") or DOCKER_RETRIES)
    return max(float(POLL), min(docker, budget))


def probe_script(app: list[str], check: list[str], *, seconds: float) -> str:
    """The /bin/sh script: start ``app``, poll ``check`` for up to ``seconds``, stop ``app``."""
    tries = max(1, math.ceil(seconds / POLL))
    run_app, run_check = shlex.join(app), shlex.join(check)
    return f"""\
if {run_check} >/dev/null 2>&1; then
  echo "dockerslim: the healthcheck passes before the app is started: something else answers it"
  exit {ANSWERED_ALREADY}
fi
log=/tmp/.dockerslim-app.$$
set -m 2>/dev/null
{run_app} >"$log" 2>&1 </dev/null &
app=$!
status=1
i=0
while [ "$i" -lt {tries} ]; do
  sleep {POLL}
  if {run_check} >/dev/null 2>&1; then status=0; break; fi
  if ! kill -0 "$app" 2>/dev/null; then status={APP_EXITED}; break; fi
  i=$((i + 1))
done
if [ "$status" -ne 0 ]; then
  if [ "$status" -eq {APP_EXITED} ]; then echo "dockerslim: the app exited before the healthcheck passed"; \
else echo "dockerslim: the healthcheck did not pass within {tries} s of starting the app"; fi
  {run_check}
  echo "--- the app's output:"
  tail -n 20 "$log" 2>/dev/null || cat "$log"
fi
kill -TERM -"$app" 2>/dev/null || kill -TERM "$app" 2>/dev/null
sleep 1
kill -KILL -"$app" 2>/dev/null || kill -KILL "$app" 2>/dev/null
rm -f "$log"
exit "$status"
"""


def probe_argv(config: Mapping[str, Any], *, budget: float = DEFAULT_BUDGET) -> list[str] | None:
    """argv for ``builder.run`` that runs the image's HEALTHCHECK against its started app;
    the check alone when there is no ENTRYPOINT/CMD to start; None without a HEALTHCHECK."""
    check = check_argv(config)
    if check is None:
        return None
    app = app_argv(config)
    if not app:
        return check
    return ["/bin/sh", "-c", probe_script(app, check, seconds=wait_seconds(config, budget))]
