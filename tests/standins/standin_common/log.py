"""Logging set-up: everything goes to stderr (the systemd journal) with timestamps.

The Mesos programs use a glog-like line format
(``I1125 12:51:00.123456 4242 master.py:120] message``); Marathon uses a
logback-like format. Both can additionally write to a log directory.
"""
import datetime
import logging
import os
import socket
import sys
import threading

_GLOG_LETTERS = {
    logging.DEBUG: "I",
    logging.INFO: "I",
    logging.WARNING: "W",
    logging.ERROR: "E",
    logging.CRITICAL: "F",
}


class GlogFormatter(logging.Formatter):
    def format(self, record):
        ts = datetime.datetime.fromtimestamp(record.created)
        letter = _GLOG_LETTERS.get(record.levelno, "I")
        msg = record.getMessage()
        if record.exc_info:
            msg = msg + "\n" + self.formatException(record.exc_info)
        return "%s%s %s %5d %s:%d] %s" % (
            letter,
            ts.strftime("%m%d"),
            ts.strftime("%H:%M:%S.%f"),
            threading.get_native_id() if hasattr(threading, "get_native_id") else record.thread,
            os.path.basename(record.pathname),
            record.lineno,
            msg,
        )


class MarathonFormatter(logging.Formatter):
    def format(self, record):
        ts = datetime.datetime.fromtimestamp(record.created)
        msg = record.getMessage()
        if record.exc_info:
            msg = msg + "\n" + self.formatException(record.exc_info)
        return "[%s] %-5s %s (%s:%s)" % (
            ts.strftime("%Y-%m-%d %H:%M:%S,%f")[:-3],
            {"WARNING": "WARN"}.get(record.levelname, record.levelname),
            msg,
            record.module,
            record.threadName,
        )


def setup_glog(program, level="INFO", quiet=False, log_dir=None):
    """Configure the root logger the way a Mesos binary does."""
    lvl = {"INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR}.get(
        str(level).upper(), logging.INFO)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.setLevel(logging.DEBUG)
    fmt = GlogFormatter()
    if not quiet:
        h = logging.StreamHandler(sys.stderr)
        h.setLevel(lvl)
        h.setFormatter(fmt)
        root.addHandler(h)
    if log_dir:
        try:
            os.makedirs(log_dir, exist_ok=True)
            now = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
            try:
                user = os.environ.get("USER") or __import__("pwd").getpwuid(os.getuid()).pw_name
            except Exception:  # pragma: no cover - exotic environments
                user = "invalid-user"
            name = "%s.%s.%s.log.INFO.%s.%d" % (program, socket.gethostname(), user, now, os.getpid())
            path = os.path.join(log_dir, name)
            fh = logging.FileHandler(path)
            # --logging_level applies to the log file when --quiet is given.
            fh.setLevel(lvl if quiet else logging.INFO)
            fh.setFormatter(fmt)
            root.addHandler(fh)
            link = os.path.join(log_dir, program + ".INFO")
            try:
                if os.path.islink(link) or os.path.exists(link):
                    os.unlink(link)
                os.symlink(name, link)
            except OSError:
                pass
        except OSError as exc:
            sys.stderr.write("Failed to open log directory %s: %s\n" % (log_dir, exc))
    if not root.handlers:
        root.addHandler(logging.NullHandler())
    # kazoo is chatty at INFO about every connection state change; keep WARNING+.
    logging.getLogger("kazoo.client").setLevel(logging.WARNING)
    logging.getLogger("kazoo.protocol.connection").setLevel(logging.WARNING)


def setup_marathon(level="info"):
    mapping = {
        "off": logging.CRITICAL + 10, "fatal": logging.CRITICAL, "error": logging.ERROR,
        "warn": logging.WARNING, "info": logging.INFO, "debug": logging.DEBUG,
        "trace": logging.DEBUG, "all": logging.DEBUG,
    }
    lvl = mapping.get(str(level).lower(), logging.INFO)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.setLevel(lvl)
    h = logging.StreamHandler(sys.stderr)
    h.setFormatter(MarathonFormatter())
    root.addHandler(h)
    logging.getLogger("kazoo.client").setLevel(max(lvl, logging.WARNING))
    logging.getLogger("kazoo.protocol.connection").setLevel(max(lvl, logging.WARNING))
