"""`tenant render` output: one object per file, byte-identical for the same input, no leftovers."""

from __future__ import annotations

import yaml

from spbe_kit.render import write_manifests


def _read(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_input_gives_byte_identical_files(tmp_path, example_state):
    write_manifests(example_state, tmp_path / "a")
    write_manifests(example_state, tmp_path / "b")
    assert _read(tmp_path / "a") == _read(tmp_path / "b")


def test_files_parse_back_to_the_desired_objects(tmp_path, banyuwangi):
    paths = write_manifests(banyuwangi, tmp_path)
    assert len(paths) == len(banyuwangi.manifests)
    for path, manifest in zip(paths, banyuwangi.manifests):
        assert yaml.safe_load(path.read_text()) == manifest.body
        assert path.name.endswith(f"-{manifest.kind.lower()}-{manifest.name}.yaml")


def test_a_rerender_removes_files_the_tenant_no_longer_has_but_keeps_foreign_files(tmp_path, banyuwangi):
    (tmp_path / "999-deployment-gone.yaml").write_text("stale")
    (tmp_path / "notes.txt").write_text("mine")
    write_manifests(banyuwangi, tmp_path)
    assert not (tmp_path / "999-deployment-gone.yaml").exists()
    assert (tmp_path / "notes.txt").read_text() == "mine"
