#!/usr/bin/env python3
"""Build the Mesos and Marathon stand-in release archives (deterministically).

Run with the project's venv python::

    .venv/bin/python tests/standins/build.py [--out build/releases]

Produces::

    build/releases/mesos-1.11.0.tar.gz      mesos-1.11.0/{sbin,lib/python,share}
    build/releases/marathon-1.11.24.tgz     marathon-1.11.24/{bin,lib/python,share}
    build/releases/SHA256SUMS

Both archives vendor kazoo (pure Python) into lib/python. Entries are sorted,
owned by root:root (0/0), carry a fixed mtime, and the gzip header has no name
and a zero timestamp, so the checksums are stable across builds.
"""
import argparse
import gzip
import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def _package_version(pkg):
    with open(os.path.join(HERE, pkg, "__init__.py")) as fh:
        return re.search(r'^VERSION = "([^"]+)"', fh.read(), re.M).group(1)


MESOS_VERSION = _package_version("mesos")
MARATHON_VERSION = _package_version("marathon")

KAZOO_VERSION = "2.11.0"
FIXED_MTIME = 1606176000  # 2020-11-24T00:00:00Z
SKIP_DIRS = {"__pycache__", ".pytest_cache", "sbin", "bin"}


def log(msg):
    sys.stderr.write("build: %s\n" % msg)


def kazoo_wheel(cache_dir):
    """Path of the kazoo wheel, downloaded once into the build cache."""
    os.makedirs(cache_dir, exist_ok=True)
    name = "kazoo-%s-py2.py3-none-any.whl" % KAZOO_VERSION
    path = os.path.join(cache_dir, name)
    if os.path.exists(path):
        return path
    pip = [sys.executable, "-m", "pip"]
    cmd = pip + ["download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
                 "-d", cache_dir, "kazoo==%s" % KAZOO_VERSION]
    log("downloading kazoo %s wheel" % KAZOO_VERSION)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not os.path.exists(path):
        sys.stderr.write(proc.stdout + proc.stderr)
        return None
    return path


def kazoo_files(cache_dir):
    """[(relative path, bytes)] of the vendored kazoo package."""
    wheel = kazoo_wheel(cache_dir)
    out = []
    if wheel is not None:
        with zipfile.ZipFile(wheel) as zf:
            for info in zf.infolist():
                if info.is_dir() or "__pycache__" in info.filename or info.filename.endswith(".pyc"):
                    continue
                if not (info.filename.startswith("kazoo/") or info.filename.startswith("kazoo-")):
                    continue
                out.append((info.filename, zf.read(info)))
        return out
    # Fallback: the kazoo installed in this interpreter (must be the pinned version).
    import kazoo
    from importlib import metadata
    if metadata.version("kazoo") != KAZOO_VERSION:
        raise SystemExit("kazoo %s is required (found %s) and the wheel could not be downloaded"
                         % (KAZOO_VERSION, metadata.version("kazoo")))
    base = os.path.dirname(os.path.dirname(kazoo.__file__))
    log("using the installed kazoo from %s" % base)
    for dirpath, dirnames, filenames in os.walk(os.path.dirname(kazoo.__file__)):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for f in filenames:
            if f.endswith(".pyc"):
                continue
            full = os.path.join(dirpath, f)
            with open(full, "rb") as fh:
                out.append((os.path.relpath(full, base), fh.read()))
    return out


def package_files(pkg):
    """[(relative path under lib/python, bytes)] for a source package."""
    out = []
    src = os.path.join(HERE, pkg)
    for dirpath, dirnames, filenames in os.walk(src):
        rel_dir = os.path.relpath(dirpath, src)
        dirnames[:] = sorted(d for d in dirnames if not (d in SKIP_DIRS and rel_dir == ".") and d != "__pycache__")
        for f in sorted(filenames):
            if not f.endswith(".py"):
                continue
            full = os.path.join(dirpath, f)
            with open(full, "rb") as fh:
                out.append((os.path.relpath(full, HERE), fh.read()))
    return out


def read(path):
    with open(path, "rb") as fh:
        return fh.read()


def add_dirs(entries):
    dirs = set()
    for path, _, _ in entries:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    return [(d, None, 0o755) for d in dirs]


def write_archive(out_path, entries):
    """entries: [(path inside archive, bytes or None for a directory, mode)]"""
    entries = add_dirs(entries) + list(entries)
    entries.sort(key=lambda e: e[0])
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for path, data, mode in entries:
            info = tarfile.TarInfo(path)
            info.mtime = FIXED_MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mode = mode
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    with open(out_path, "wb") as fh:
        with gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=9) as gz:
            gz.write(raw.getvalue())


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build_mesos(out_dir, kazoo):
    top = "mesos-%s" % MESOS_VERSION
    entries = []
    for script in ("mesos-master", "mesos-agent", "mesos-slave"):
        entries.append(("%s/sbin/%s" % (top, script), read(os.path.join(HERE, "mesos", "sbin", script)), 0o755))
    for rel, data in package_files("mesos") + package_files("standin_common"):
        entries.append(("%s/lib/python/%s" % (top, rel), data, 0o644))
    for rel, data in kazoo:
        entries.append(("%s/lib/python/%s" % (top, rel), data, 0o644))
    entries.append(("%s/share/mesos/VERSION" % top, ("%s\n" % MESOS_VERSION).encode(), 0o644))
    path = os.path.join(out_dir, "mesos-%s.tar.gz" % MESOS_VERSION)
    write_archive(path, entries)
    return path


def build_marathon(out_dir, kazoo):
    top = "marathon-%s" % MARATHON_VERSION
    entries = [("%s/bin/marathon" % top, read(os.path.join(HERE, "marathon", "bin", "marathon")), 0o755)]
    for rel, data in package_files("marathon") + package_files("standin_common"):
        entries.append(("%s/lib/python/%s" % (top, rel), data, 0o644))
    for rel, data in kazoo:
        entries.append(("%s/lib/python/%s" % (top, rel), data, 0o644))
    entries.append(("%s/share/marathon/VERSION" % top, ("%s\n" % MARATHON_VERSION).encode(), 0o644))
    path = os.path.join(out_dir, "marathon-%s.tgz" % MARATHON_VERSION)
    write_archive(path, entries)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "releases"))
    ap.add_argument("--cache", default=os.path.join(ROOT, "build", "cache"))
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    kazoo = kazoo_files(args.cache)
    if not any(rel.startswith("kazoo/client.py") for rel, _ in kazoo):
        raise SystemExit("kazoo could not be vendored")
    built = [build_mesos(args.out, kazoo), build_marathon(args.out, kazoo)]
    lines = ["%s  %s\n" % (sha256(p), os.path.basename(p)) for p in built]
    # Keep the entries of other archives that share build/releases (e.g. ZooKeeper).
    sums = os.path.join(args.out, "SHA256SUMS")
    mine = {os.path.basename(p) for p in built}
    kept = []
    if os.path.exists(sums):
        with open(sums) as fh:
            for line in fh:
                parts = line.split()
                if len(parts) == 2 and parts[1].lstrip("*") not in mine:
                    kept.append(line if line.endswith("\n") else line + "\n")
    with open(sums + ".tmp", "w") as fh:
        fh.writelines(sorted(kept + lines, key=lambda l: l.split()[1]))
    os.replace(sums + ".tmp", sums)
    for line in lines:
        sys.stdout.write(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
