#!/usr/bin/env python3
"""Runs every check CI runs, in order, and ends with one summary line.

Stages: lint (yamllint + ansible-lint), unit tests (pytest), local integration
tests (pytest against Mesos/Marathon stand-ins and a private ZooKeeper that the
tests start on loopback; they skip without the zookeeper package), then each molecule
scenario (create, converge, idempotence, testinfra verify, destroy). Tests are
counted from the JUnit files pytest writes (unit tests and every scenario's
verify); a stage that fails outside pytest (lint, converge, idempotence) counts
as one failed check. The last line is "N passed, N failed".

  tests/run_all.py                 everything
  tests/run_all.py unit lint       only those stages
  tests/run_all.py integration-local
  tests/run_all.py zookeeper       only that scenario
"""
from __future__ import annotations

import glob
import os
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JUNIT = os.path.join(ROOT, "build", "junit")
BIN = os.path.dirname(sys.executable)

# Self-contained integration tests: they start what they need on loopback ports.
LOCAL_INTEGRATION = ["tests/integration/marathon_app", "tests/integration/gitreceive_local", "tests/integration/zk_local"]
# Order matters: cheap checks first, then scenarios from small to large.
SCENARIOS = ["zookeeper", "zookeeper-cluster", "exhibitor-nfs", "exhibitor-s3", "site"]
# The scenarios run in two lanes side by side (their hosts, networks and
# subnets are disjoint): the long site scenario in one, everything else in the
# other. Most of a scenario's time is waiting (JVM starts, elections, health
# checks), so two lanes on two cores finish in about the time of the longest.
# PAAS_TEST_LANES=1 runs everything one after the other.
SOLO_LANE = ["site"]


def existing_scenarios():
    return [s for s in SCENARIOS if os.path.exists(os.path.join(ROOT, "molecule", s, "molecule.yml"))]


LOGS = os.path.join(ROOT, "build", "logs")
_print_lock = threading.Lock()


def run(name, cmd, env=None, log=False):
    """Run one stage. With log=True (stages running side by side) its output goes to
    build/logs/<name>.log and is printed in one piece when the stage ends."""
    with _print_lock:
        print("\n===== %s: %s" % (name, " ".join(cmd)), flush=True)
    start = time.monotonic()
    full_env = dict(os.environ)
    full_env["PATH"] = BIN + os.pathsep + full_env.get("PATH", "")
    full_env.update(env or {})
    if log:
        os.makedirs(LOGS, exist_ok=True)
        path = os.path.join(LOGS, name.replace(" ", "-") + ".log")
        with open(path, "w") as out:
            rc = subprocess.call(cmd, cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    else:
        rc = subprocess.call(cmd, cwd=ROOT, env=full_env)
    seconds = time.monotonic() - start
    with _print_lock:
        if log:
            print("\n===== %s output (%s)" % (name, os.path.relpath(path, ROOT)), flush=True)
            with open(path, errors="replace") as fh:
                sys.stdout.write(fh.read())
        print("===== %s: %s in %.0f s" % (name, "ok" if rc == 0 else "FAILED (rc=%d)" % rc, seconds), flush=True)
    return rc == 0, seconds


def junit_counts(path):
    passed = failed = 0
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError):
        return 0, 0
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    for suite in suites:
        tests = int(suite.get("tests", 0))
        bad = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped = int(suite.get("skipped", 0))
        passed += tests - bad - skipped
        failed += bad
    return passed, failed


def main(argv):
    wanted = argv[1:]
    scenarios = existing_scenarios()
    stages = []
    if not wanted or "lint" in wanted:
        stages.append(("lint", [os.path.join(BIN, "yamllint"), "-s", "."], None))
        stages.append(("ansible-lint", [os.path.join(BIN, "ansible-lint")], None))
    if not wanted or "unit" in wanted:
        stages.append(("unit", [os.path.join(BIN, "pytest"), "-q", "-p", "no:cacheprovider", "tests/unit",
                                "--junitxml=%s" % os.path.join(JUNIT, "unit.xml")], "unit"))
    if not wanted or "integration-local" in wanted:
        stages.append(("integration-local",
                       [os.path.join(BIN, "pytest"), "-q", "-p", "no:cacheprovider"] + LOCAL_INTEGRATION
                       + ["--junitxml=%s" % os.path.join(JUNIT, "integration-local.xml")], "integration-local"))
    for scenario in scenarios:
        if not wanted or scenario in wanted:
            stages.append(("molecule " + scenario,
                           [os.path.join(BIN, "molecule"), "test", "-s", scenario], scenario))

    os.makedirs(JUNIT, exist_ok=True)
    for _name, _cmd, junit in stages:
        if junit:
            for old in glob.glob(os.path.join(JUNIT, junit + ".xml")):
                os.remove(old)

    def run_stage(stage, log=False):
        name, cmd, junit = stage
        ok, seconds = run(name, cmd, log=log)
        passed = failed = 0
        if junit:
            passed, failed = junit_counts(os.path.join(JUNIT, junit + ".xml"))
        if not ok and failed == 0:
            failed = 1  # the stage failed outside pytest (lint, converge, idempotence...)
        if ok and not junit:
            passed = 1
        return (name, ok, passed, failed, seconds)

    lanes = int(os.environ.get("PAAS_TEST_LANES", "2"))
    first = [st for st in stages if not st[0].startswith("molecule ") and st[0] != "integration-local"]
    rest = [st for st in stages if st not in first]
    results = [run_stage(st) for st in first]
    solo = [st for st in rest if st[0].replace("molecule ", "") in SOLO_LANE]
    others = [st for st in rest if st not in solo]
    if lanes < 2 or not solo or not others:
        results += [run_stage(st) for st in rest]
    else:
        lane_results = {}

        def lane(key, lane_stages):
            lane_results[key] = [run_stage(st, log=True) for st in lane_stages]

        threads = [threading.Thread(target=lane, args=(k, v)) for k, v in (("solo", solo), ("others", others))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        results += lane_results["others"] + lane_results["solo"]

    total_passed = sum(r[2] for r in results)
    total_failed = sum(r[3] for r in results)
    print("\n%-28s %6s %6s %8s" % ("stage", "passed", "failed", "seconds"))
    for name, ok, passed, failed, seconds in results:
        print("%-28s %6d %6d %8.0f%s" % (name, passed, failed, seconds, "" if ok else "  <- FAILED"))
    print("%d passed, %d failed" % (total_passed, total_failed))
    return 0 if total_failed == 0 and all(r[1] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
