"""Every module and plugin's DOCUMENTATION parses, as ansible-doc needs it to."""
import glob
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLUGINS = [("module", p) for p in sorted(glob.glob(os.path.join(ROOT, "library", "*.py")))] + \
          [("lookup", p) for p in sorted(glob.glob(os.path.join(ROOT, "lookup_plugins", "*.py")))]


@pytest.mark.parametrize("kind,path", PLUGINS, ids=lambda v: os.path.basename(v) if isinstance(v, str) else v)
def test_ansible_doc_renders(kind, path):
    name = os.path.splitext(os.path.basename(path))[0]
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-doc"), "-t", kind, "--json", name],
                          capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg")))
    assert proc.returncode == 0, proc.stderr
    assert "[WARNING]" not in proc.stderr and "[ERROR]" not in proc.stderr, proc.stderr
    import json
    doc = json.loads(proc.stdout)[name]["doc"]
    assert doc["short_description"]
