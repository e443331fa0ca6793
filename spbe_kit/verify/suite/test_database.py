"""The database: listening, a TLS-only pg_hba, a private server key, and a recent backup."""

from spbe_kit.verify.suite.checks import listens_as_configured, private


def test_postgres_listens(node, facts):
    ok, why = listens_as_configured(node, facts.listen_address, facts.port)
    assert ok, why


def test_pg_hba_is_private_to_postgres(node, facts):
    ok, why = private(node, facts.hba_file, 0o640)
    assert ok, why
    owner = node.file(facts.hba_file).user
    assert owner == facts.hba_owner, f"{facts.hba_file} belongs to {owner}, expected {facts.hba_owner}"


def test_pg_hba_rejects_tcp_without_tls(node, facts):
    gap = "[[:space:]][[:space:]]*"  # grep's basic regular expressions have no `+`
    assert node.file(facts.hba_file).contains(f"^hostnossl{gap}all{gap}all{gap}0\\.0\\.0\\.0/0{gap}reject"), \
        f"{facts.hba_file} has no `hostnossl all all 0.0.0.0/0 reject` line: plain TCP connections are not refused"


def test_server_key_is_private(node, facts):
    ok, why = private(node, facts.server_key, 0o600)
    assert ok, why


def test_a_plain_tcp_login_is_refused_by_the_server(node, facts):
    host = "127.0.0.1" if facts.listen_address == "0.0.0.0" else facts.listen_address
    result = node.run("psql %s -c 'select 1'",
                      f"host={host} port={facts.port} user=postgres dbname=postgres sslmode=disable connect_timeout=5")
    assert result.rc != 0, "a login without TLS was accepted"
    assert "no encryption" in result.stderr, f"refused, but not for lacking TLS: {result.stderr.strip()[:200]}"


def test_backup_present_and_recent(node, facts):
    limit = facts.backup_max_age_hours
    if facts.backup_dir:
        assert node.file(facts.backup_dir).is_directory, f"backup directory {facts.backup_dir} is missing"
        recent = node.run("find %s -maxdepth 1 -type f -size +0 -mmin -%s", facts.backup_dir, str(limit * 60)).stdout
        assert recent.split(), f"no non-empty backup in {facts.backup_dir} younger than {limit} hours"
    elif facts.backup_last_success:
        import datetime as dt

        age = dt.datetime.now(dt.timezone.utc) - dt.datetime.fromisoformat(facts.backup_last_success)
        assert age <= dt.timedelta(hours=limit), \
            f"the last successful backup finished {age.total_seconds() / 3600:.0f} hours ago (limit {limit})"
    else:
        import pytest

        pytest.skip("no backup found: no backup directory given and the backup job has never succeeded")
