"""Who may do what in the backup store: the store's identities and policies, as data.

- the platform: everything (it prunes by retention, runs restore drills, writes their results);
- each tenant's backup job: read and write its own repository (restic reads the repository's
  config, keys and index to add to it), list only under it, and delete nothing but restic's own
  lock files -- so neither the job nor anyone who takes its credentials can shorten the retention
  or wipe the backups, and nobody reads another tenant's;
- auditors: list what exists, read the signed restore-drill results; no backup content.

The same document works as SeaweedFS's ``-s3.config`` file (identities with IAM-style policies);
for another S3 store ops translate the policies, which are plain AWS policy JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from spbe_kit.backups.store import DRILLS_PREFIX, TENANTS_PREFIX, Credentials, MasterKey, tenant_prefix


def _arn(bucket: str, key: str = "") -> str:
    return f"arn:aws:s3:::{bucket}" + (f"/{key}" if key else "")


def tenant_policy(bucket: str, tenant_id: str) -> dict:
    """Append-only access to one tenant's repository."""
    prefix = tenant_prefix(tenant_id)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ListOwnRepository", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": _arn(bucket),
             "Condition": {"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}}},
            {"Sid": "BucketLocation", "Effect": "Allow", "Action": ["s3:GetBucketLocation"], "Resource": _arn(bucket)},
            {"Sid": "ReadWriteOwnRepository", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
             "Resource": _arn(bucket, f"{prefix}/*")},
            {"Sid": "RemoveOwnLocks", "Effect": "Allow", "Action": ["s3:DeleteObject"],
             "Resource": _arn(bucket, f"{prefix}/locks/*")},
        ],
    }


def auditor_policy(bucket: str) -> dict:
    """List every key; read only the drill results."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ListEverything", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
             "Resource": _arn(bucket)},
            {"Sid": "ReadDrillResults", "Effect": "Allow", "Action": ["s3:GetObject"],
             "Resource": _arn(bucket, f"{DRILLS_PREFIX}/*")},
        ],
    }


def _identity(name: str, credentials: Credentials, **access) -> dict:
    return {"name": name, "credentials": [{"accessKey": credentials.access_key, "secretKey": credentials.secret_key}],
            **access}


def store_config(bucket: str, admin: Credentials, master: MasterKey, tenant_ids: Iterable[str]) -> dict:
    """The store's whole identity document (it holds secrets: written 0600, never printed)."""
    identities = [_identity("spbe-platform", admin, actions=["Admin"]),
                  _identity("spbe-auditors", master.auditor(), policyNames=["spbe-auditors"])]
    policies = [{"name": "spbe-auditors", "content": json.dumps(auditor_policy(bucket), sort_keys=True)}]
    for tenant_id in sorted(set(tenant_ids)):
        keys = master.tenant(tenant_id)
        name = f"spbe-tenant-{tenant_id}"
        identities.append(_identity(name, keys.store, policyNames=[name]))
        policies.append({"name": name, "content": json.dumps(tenant_policy(bucket, tenant_id), sort_keys=True)})
    return {"identities": identities, "policies": policies}


def tenants_in(config: dict) -> list[str]:
    """The tenants a store document already admits."""
    return sorted(i["name"].removeprefix("spbe-tenant-") for i in config.get("identities", [])
                  if i["name"].startswith("spbe-tenant-"))


__all__ = ["TENANTS_PREFIX", "auditor_policy", "store_config", "tenant_policy", "tenants_in"]
