#!/usr/bin/env python3
"""Prints a Markdown table of a role's variables from meta/argument_specs.yml,
for its README: tests/tools/role_vars_table.py roles/<name>"""
import sys

import yaml

spec = yaml.safe_load(open(sys.argv[1] + "/meta/argument_specs.yml"))["argument_specs"]["main"]["options"]
print("| Variable | Default | Description |")
print("|---|---|---|")
for name, opt in spec.items():
    default = opt.get("default", "*(required per host)*" if name.endswith("_id") else "*(none)*")
    if isinstance(default, str) and not default.startswith("*"):
        default = "`%s`" % (default.strip() if default.strip() else '""')
    elif not isinstance(default, str):
        default = "`%s`" % yaml.safe_dump(default, default_flow_style=True).strip().replace("\n...", "")
    desc = " ".join(opt["description"]) if isinstance(opt["description"], list) else opt["description"]
    print("| `%s` | %s | %s |" % (name, default.replace("|", "\\|"), " ".join(desc.split()).replace("|", "\\|")))
