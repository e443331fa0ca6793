"""The store's S3 API for what restic does not do: the bucket, listings, drill results, access checks."""

from __future__ import annotations

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from spbe_kit.backups.store import Credentials, StoreSettings
from spbe_kit.errors import BackupError

#: the baseline's shortest retention (catalog backup.retentionDays has ge=7): the store's lock on every version
MINIMUM_RETENTION_DAYS = 7


def client(settings: StoreSettings, credentials: Credentials | None = None):
    creds = credentials or settings.admin
    return boto3.client(
        "s3", endpoint_url=settings.endpoint, region_name=settings.region,
        aws_access_key_id=creds.access_key, aws_secret_access_key=creds.secret_key,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}, connect_timeout=5, read_timeout=60),
    )


def error_code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) or "ClientError"
    return type(exc).__name__


def list_prefixes(settings: StoreSettings, prefix: str, credentials: Credentials | None = None) -> list[str]:
    """The names one level below `prefix` (e.g. the tenants under tenants/), without listing their objects."""
    s3 = client(settings, credentials)
    out: list[str] = []
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=prefix, Delimiter="/"):
            out += [p["Prefix"][len(prefix):].rstrip("/") for p in page.get("CommonPrefixes", [])]
    except (ClientError, BotoCoreError) as exc:
        raise BackupError(f"cannot list {prefix} in the backup store: {error_code(exc)}") from None
    return sorted(out)


def ensure_bucket(settings: StoreSettings) -> bool:
    """Create the platform's bucket unless it exists; True when created now."""
    s3 = client(settings)
    try:
        s3.head_bucket(Bucket=settings.bucket)
        return False
    except ClientError as exc:
        if error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise BackupError(f"cannot reach bucket {settings.bucket} at {settings.endpoint}: {error_code(exc)}") from None
    except BotoCoreError as exc:
        raise BackupError(f"the backup store at {settings.endpoint} is not reachable: {exc}") from None
    # object lock (and so versioning): writing over a backup keeps the old version, and no version can be
    # deleted before the baseline's minimum retention, by anyone -- the platform's prune included
    s3.create_bucket(Bucket=settings.bucket, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket=settings.bucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": MINIMUM_RETENTION_DAYS}}})
    return True


def list_keys(settings: StoreSettings, prefix: str, credentials: Credentials | None = None) -> list[dict]:
    """Every object under `prefix`: key, size, modified time."""
    s3 = client(settings, credentials)
    out: list[dict] = []
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=prefix):
            out += [{"key": o["Key"], "size": o["Size"], "modified": o["LastModified"].isoformat()}
                    for o in page.get("Contents", [])]
    except (ClientError, BotoCoreError) as exc:
        raise BackupError(f"cannot list {prefix} in the backup store: {error_code(exc)}") from None
    return out


def put(settings: StoreSettings, key: str, body: bytes, content_type: str = "application/json") -> None:
    try:
        client(settings).put_object(Bucket=settings.bucket, Key=key, Body=body, ContentType=content_type)
    except (ClientError, BotoCoreError) as exc:
        raise BackupError(f"cannot write {key} to the backup store: {error_code(exc)}") from None


def get(settings: StoreSettings, key: str, credentials: Credentials | None = None) -> bytes:
    try:
        return client(settings, credentials).get_object(Bucket=settings.bucket, Key=key)["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        raise BackupError(f"cannot read {key} from the backup store: {error_code(exc)}") from None


def versions(settings: StoreSettings, prefix: str) -> list[dict]:
    """Every version and delete marker under `prefix` (the platform's view of the store's history)."""
    s3 = client(settings)
    out: list[dict] = []
    try:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=settings.bucket, Prefix=prefix):
            for v in page.get("Versions", []):
                out.append({"key": v["Key"], "versionId": v["VersionId"], "latest": v["IsLatest"],
                            "modified": v["LastModified"], "deleteMarker": False})
            for m in page.get("DeleteMarkers", []):
                out.append({"key": m["Key"], "versionId": m["VersionId"], "latest": m["IsLatest"],
                            "modified": m["LastModified"], "deleteMarker": True})
    except (ClientError, BotoCoreError) as exc:
        raise BackupError(f"cannot list the versions under {prefix}: {error_code(exc)}") from None
    return out


def delete_versions(settings: StoreSettings, versions: list[dict]) -> None:
    s3 = client(settings)
    for v in versions:
        try:
            s3.delete_object(Bucket=settings.bucket, Key=v["key"], VersionId=v["versionId"])
        except (ClientError, BotoCoreError) as exc:
            raise BackupError(f"cannot delete an old version of {v['key']}: {error_code(exc)}") from None


def copy_version(settings: StoreSettings, key: str, version_id: str) -> None:
    """Make an older version of `key` its current one again."""
    try:
        client(settings).copy_object(Bucket=settings.bucket, Key=key,
                                     CopySource={"Bucket": settings.bucket, "Key": key, "VersionId": version_id})
    except (ClientError, BotoCoreError) as exc:
        raise BackupError(f"cannot restore the earlier version of {key}: {error_code(exc)}") from None
