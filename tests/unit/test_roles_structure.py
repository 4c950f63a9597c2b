"""Every role keeps the house shape, and meta/argument_specs.yml stays equal to
defaults/main.yml (same variables, same default values)."""
import glob
import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "roles", "*")) if os.path.isdir(p))


def load(role, *parts):
    with open(os.path.join(ROOT, "roles", role, *parts)) as fh:
        return yaml.safe_load(fh)


def test_there_are_roles():
    assert "zookeeper" in ROLES


@pytest.mark.parametrize("role", ROLES)
def test_role_has_the_house_files(role):
    for part in ("defaults/main.yml", "meta/main.yml", "meta/argument_specs.yml", "tasks/main.yml", "README.md"):
        assert os.path.isfile(os.path.join(ROOT, "roles", role, part)), "%s lacks %s" % (role, part)


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_equal_defaults(role):
    defaults = load(role, "defaults", "main.yml") or {}
    options = load(role, "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    missing = sorted(set(defaults) - set(options))
    assert not missing, "defaults without an argument spec in %s: %s" % (role, missing)
    for name, spec in options.items():
        assert name.startswith(role.split("_")[0]) or name.startswith(role), \
            "%s: option %s is not prefixed with the role's name" % (role, name)
        assert spec.get("description"), "%s: %s has no description" % (role, name)
        if name in defaults:
            assert "default" in spec, "%s: %s has a default in defaults/main.yml but not in the spec" % (role, name)
            assert spec["default"] == defaults[name], \
                "%s: %s defaults differ: spec %r, defaults %r" % (role, name, spec["default"], defaults[name])
        else:
            assert "default" not in spec, "%s: %s declares a default that defaults/main.yml lacks" % (role, name)


@pytest.mark.parametrize("role", ROLES)
def test_defaults_are_role_prefixed(role):
    defaults = load(role, "defaults", "main.yml") or {}
    prefix = role.split("_")[0]
    bad = [k for k in defaults if not (k.startswith(role + "_") or k.startswith(prefix + "_"))]
    assert not bad, "%s: variables without the role prefix: %s" % (role, bad)


@pytest.mark.parametrize("template", sorted(glob.glob(os.path.join(ROOT, "roles", "*", "templates", "*.j2"))),
                         ids=lambda p: os.path.relpath(p, ROOT))
def test_templates_say_they_are_managed(template):
    with open(template) as fh:
        head = fh.read(400)
    assert "ansible_managed | comment" in head


@pytest.mark.parametrize("role", ROLES)
def test_handlers_are_in_sentence_case(role):
    path = os.path.join(ROOT, "roles", role, "handlers", "main.yml")
    if not os.path.exists(path):
        pytest.skip("no handlers")
    for handler in load(role, "handlers", "main.yml") or []:
        name = handler["name"]
        assert name[0].isupper() and name[1:] != name[1:].upper(), name


@pytest.mark.parametrize("role", ROLES)
def test_readme_documents_every_variable(role):
    with open(os.path.join(ROOT, "roles", role, "README.md")) as fh:
        readme = fh.read()
    options = load(role, "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    undocumented = [name for name in options if "`%s`" % name not in readme]
    assert not undocumented, "%s/README.md does not mention %s" % (role, undocumented)
