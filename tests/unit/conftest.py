"""Unit tests import the project's plugins and modules straight from the tree."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# roles/gitreceive/files: the git host's program (import gitreceive).
for sub in ("filter_plugins", "lookup_plugins", "library", "tests", "", os.path.join("roles", "gitreceive", "files")):
    path = os.path.join(ROOT, sub)
    if path not in sys.path:
        sys.path.insert(0, path)
