# -*- coding: utf-8 -*-
"""The Mesos principals of the tenants kept on this controller."""

from __future__ import annotations

DOCUMENTATION = r"""
name: paas_tenant_principals
short_description: The tenants' Mesos principals, from the secrets tenant.yml keeps on the controller
description:
  - Reads C(<dir>/<tenant>/secrets.yml) for every tenant directory below the given directory (the
    C(tenant_secrets_dir) of tenant.yml, that is C(paas_secrets_dir/tenants)) and returns one
    C({principal, secret}) per tenant whose secrets hold a C(mesos_secret); the principal a
    tenant's Marathon authenticates to the Mesos masters with is the tenant's name.
  - The masters' C(--credentials) and C(--acls) are built from it (group_vars), so that
    C(site.yml) and C(tenant.yml) write the same credentials file.
  - A missing directory gives an empty list; a secrets file that cannot be read or parsed is an error
    naming it. Secrets are never part of an error message.
options:
  _terms:
    description: The directory holding one directory per tenant.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: The masters' credentials, the platform's and the tenants'
  ansible.builtin.set_fact:
    mesos_master_credentials: >-
      {{ paas_mesos_credentials + query('paas_tenant_principals', paas_secrets_dir ~ '/tenants') }}
"""

RETURN = r"""
_raw:
  description: One C({principal, secret}) per tenant, sorted by principal.
  type: list
  elements: dict
"""

import os
import re

import yaml
from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

# The tenant name rule (tenant role): 3-32 characters, lowercase letters, digits and '-'.
_TENANT = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        out = []
        for term in terms:
            base = os.path.expanduser(str(term))
            if not os.path.isdir(base):
                continue
            for name in sorted(os.listdir(base)):
                path = os.path.join(base, name, "secrets.yml")
                if not _TENANT.match(name) or not os.path.isfile(path):
                    continue
                try:
                    with open(path) as fh:
                        kept = yaml.safe_load(fh) or {}
                except (OSError, yaml.YAMLError) as exc:
                    raise AnsibleLookupError("paas_tenant_principals: cannot read %s: %s" % (path, type(exc).__name__))
                secret = kept.get("mesos_secret") if isinstance(kept, dict) else None
                if isinstance(secret, str) and secret:
                    out.append({"principal": name, "secret": secret})
        return out
