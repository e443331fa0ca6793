"""The fast YAML writer reads back exactly, for every rendered object and for tricky strings."""

from __future__ import annotations

import pytest
import yaml

from spbe_kit.yaml_emit import dump

TRICKY = [
    "", " ", "yes", "No", "on", "OFF", "y", "~", "null", "true", "0755", "1e3", "0x1F", "1_000", ".5", "-1", "+1",
    "1:30", "2026-11-23", "2026-11-23T01:00:00Z", ".inf", ".NaN", "<<", "=", "a: b", "a #b", "#x", "- x", "-", "?x",
    "x:", "@x", "`x", "!x", "%x", "*x", "&x", "{x}", "[x]", "|", ">", "'", '"', "x, y", "http://a:8080/b?c=d",
    "sha256:abc", "spbe:kab-x:admins", "0 1 * * *", " lead", "trail ", "tab\there", "multi\nline", "multi\nline\n",
    "x\n\n", "\nfirst empty", "line with trailing space \nnext", "unicode ✓ é", "\u2028sep", "back\\slash", "nul\x00",
    "Kabupaten Banyuwangi", "Provinsi DKI Jakarta (2026)", "a  b", "a :b", "550e8400-e29b", "1.34", "v1.34",
]


@pytest.mark.parametrize("text", TRICKY, ids=range(len(TRICKY)))
def test_tricky_strings_read_back_as_the_same_string(text):
    doc = {"key": text, "list": [text, {"k": text}], text or "empty": {"nested": [text]}}
    assert yaml.safe_load(dump(doc)) == doc


def test_every_rendered_object_reads_back_equal(example_state):
    for manifest in example_state.manifests:
        assert yaml.safe_load(dump(manifest.body)) == manifest.body, manifest.key


def test_scalars_collections_and_empties():
    doc = {"i": 0, "n": None, "b": False, "f": 1.5, "e": {}, "l": [], "ll": [[1, 2], []], "d": [{"a": {}}]}
    assert yaml.safe_load(dump(doc)) == doc


def test_keys_keep_their_order_and_output_is_stable():
    doc = {"z": 1, "a": {"x": 2, "b": 3, "y": 4}}
    assert dump(doc).splitlines() == ["z: 1", "a:", "  x: 2", "  b: 3", '  "y": 4']  # y is a YAML 1.1 boolean
    assert dump(doc) == dump(dict(doc))


def test_unsupported_types_are_refused():
    with pytest.raises(TypeError):
        dump({"x": object()})
    with pytest.raises(TypeError):
        dump({1: "x"})
