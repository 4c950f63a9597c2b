#!/usr/bin/env python3
"""Rewrites the '## Variables' table of roles/<name>/README.md from
meta/argument_specs.yml: tests/tools/update_role_readme.py roles/<name> [...]"""
import os
import re
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
for role in sys.argv[1:]:
    path = os.path.join(role, "README.md")
    text = open(path).read()
    table = subprocess.run([sys.executable, os.path.join(here, "role_vars_table.py"), role],
                           capture_output=True, text=True, check=True).stdout
    new, count = re.subn(r"(## Variables\n\n)(\|.*?\n)(?=\n## |\Z)", lambda m: m.group(1) + table, text,
                         flags=re.S)
    if count != 1:
        raise SystemExit("%s: no '## Variables' table to replace" % path)
    open(path, "w").write(new)
