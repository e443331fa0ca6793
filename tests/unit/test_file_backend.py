"""The file backend: the engine never writes metadata sidecars, and torn ones are removed."""

from pathlib import Path

from spbe_kit.provision import file_backend
from spbe_kit.provision.settings import EngineSettings


def test_engine_url_turns_sidecars_off_for_file_backends_only():
    assert file_backend.engine_url("file:///var/lib/spbe/pulumi") == "file:///var/lib/spbe/pulumi?metadata=skip"
    assert file_backend.engine_url("file:///s?no_tmp_dir=true") == "file:///s?no_tmp_dir=true&metadata=skip"
    # an operator's explicit choice stands
    assert file_backend.engine_url("file:///s?metadata=") == "file:///s?metadata="
    for remote in ("s3://pdn-spbe-state", "postgres://spbe:pw@db/state?sslmode=require"):
        assert file_backend.engine_url(remote) == remote


def test_backend_dir_ignores_the_query_and_decodes_the_path():
    assert file_backend.backend_dir("file:///var/lib/spbe/pulumi?metadata=skip") == Path("/var/lib/spbe/pulumi")
    assert file_backend.backend_dir("file:///srv/spbe%20state") == Path("/srv/spbe state")
    assert file_backend.backend_dir("s3://bucket") is None


def test_settings_give_the_engine_the_safe_url(tmp_path):
    settings = EngineSettings(backend_url=(tmp_path / "pulumi").as_uri(), secrets_provider="passphrase",
                              kubeconfig=tmp_path / "kubeconfig")
    assert settings.engine_backend_url.endswith("?metadata=skip")
    assert settings.local_backend_dir == tmp_path / "pulumi"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_repair_removes_torn_sidecars_of_the_stack_and_keeps_everything_else(tmp_path):
    state = tmp_path / ".pulumi"
    good = '{"user.content_type":"application/json","md5":"AAAA"}'
    torn = [
        _write(state / "stacks/spbe-tenant/kab-x.json.attrs", ""),
        _write(state / "stacks/spbe-tenant/kab-x.json.bak.attrs", '{"user.content'),
        _write(state / "meta.yaml.attrs", ""),
        _write(state / "history/spbe-tenant/kab-x/kab-x-1.checkpoint.json.attrs", ""),
        _write(state / "locks/organization/spbe-tenant/kab-x/0b1c.json.attrs", "null"),
    ]
    kept = [
        _write(state / "stacks/spbe-tenant/kab-x.json", '{"version":3}'),
        _write(state / "stacks/spbe-tenant/kab-x.json.bak", ""),  # state files are never touched
        _write(state / "history/spbe-tenant/kab-x/kab-x-2.checkpoint.json.attrs", good),
        _write(state / "stacks/spbe-tenant/kab-y.json.attrs", ""),  # another tenant's: not this run's business
        _write(state / "stacks/spbe-tenant/kab-xy.json.attrs", ""),
    ]
    removed = file_backend.repair_sidecars(tmp_path, "spbe-tenant", "kab-x")
    assert sorted(removed) == sorted(torn)
    assert not any(p.exists() for p in torn)
    assert all(p.exists() for p in kept)
    assert file_backend.repair_sidecars(tmp_path, "spbe-tenant", "kab-x") == []


def test_repair_of_a_new_backend_finds_nothing(tmp_path):
    assert file_backend.repair_sidecars(tmp_path / "nothing-yet", "spbe-tenant", "kab-x") == []
