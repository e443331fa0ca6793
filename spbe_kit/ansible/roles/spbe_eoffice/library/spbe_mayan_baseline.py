#!/usr/bin/python
"""Ansible module: the SPBE correspondence baseline in a running Mayan EDMS, through its REST API."""

from __future__ import annotations

DOCUMENTATION = r"""
module: spbe_mayan_baseline
short_description: Ensure Mayan EDMS holds the SPBE correspondence baseline
description:
  - Ensures, through Mayan EDMS's REST API (v4), the metadata types, document types (with their
    metadata) and workflow templates (states, transitions, document types) of the baseline.
  - Creates what is missing and corrects labels and flags that differ; never deletes what a pemda
    added itself.
  - Supports check mode (reports what would change, changes nothing).
options:
  url:
    description: Base URL of Mayan (e.g. http://127.0.0.1:8080).
    type: str
    required: true
  host_header:
    description: Host header to send (one of Mayan's ALLOWED_HOSTS); empty sends the URL's host.
    type: str
    default: ''
  token:
    description:
      - The administrator's REST API token (Mayan's OpenID Connect login leaves no password login for
        the API; the token is made in the pod by C(mayan-edms.py drf_create_token)).
    type: str
    required: true
    no_log: true
  metadata_types:
    description: Metadata types (name, label, optional validation, lookup).
    type: list
    elements: dict
    default: []
  document_types:
    description: Document types (label, metadata list of name/required).
    type: list
    elements: dict
    default: []
  workflows:
    description: Workflow templates (internal_name, label, auto_launch, document_types, states, transitions).
    type: list
    elements: dict
    default: []
  timeout:
    description: Seconds per HTTP request.
    type: int
    default: 60
author: spbe-kit
"""

RETURN = r"""
changes:
  description: What was (or, in check mode, would be) created or corrected, one line each.
  type: list
  elements: str
  returned: always
"""

import json

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import open_url
from ansible.module_utils.six.moves.urllib.parse import urlsplit

VALIDATORS = {
    "date": "mayan.apps.metadata.metadata_validators.DateValidator",
    "": "",
}


class MayanError(Exception):
    pass


class Mayan:
    def __init__(self, module: AnsibleModule) -> None:
        p = module.params
        self.base = p["url"].rstrip("/") + "/api/v4/"
        self.root = p["url"].rstrip("/")
        self.headers = {"Authorization": "Token " + p["token"], "Accept": "application/json",
                        "Content-Type": "application/json"}
        if p["host_header"]:
            self.headers["Host"] = p["host_header"]
        self.timeout = p["timeout"]

    def request(self, method: str, path: str, body: dict | None = None, absolute: bool = False):
        url = path if absolute else self.base + path
        try:
            response = open_url(url, method=method, headers=self.headers, timeout=self.timeout,
                                data=json.dumps(body) if body is not None else None, follow_redirects="none")
            text = response.read()
        except HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            raise MayanError(f"{method} {path}: HTTP {exc.code} {detail}") from None
        except URLError as exc:
            raise MayanError(f"{method} {path}: Mayan does not answer ({exc.reason})") from None
        return json.loads(text) if text else None

    def all(self, path: str) -> list[dict]:
        items, url, absolute = [], path + ("&" if "?" in path else "?") + "page_size=100", False
        while url:
            page = self.request("GET", url, absolute=absolute)
            items += page["results"]
            url, absolute = page.get("next"), True
            if url:  # Mayan builds `next` from the Host header it got: keep our own way in
                parts = urlsplit(url)
                url = self.root + parts.path + ("?" + parts.query if parts.query else "")
        return items


class Baseline:
    def __init__(self, module: AnsibleModule, mayan: Mayan) -> None:
        self.module, self.mayan = module, mayan
        self.check = module.check_mode
        self.changes: list[str] = []

    def _write(self, change: str, method: str, path: str, body: dict | None = None):
        self.changes.append(change)
        if self.check:
            return None
        return self.mayan.request(method, path, body)

    def metadata_types(self, wanted: list[dict]) -> dict[str, int]:
        existing = {m["name"]: m for m in self.mayan.all("metadata_types/")}
        ids = {}
        for item in wanted:
            body = {"name": item["name"], "label": item["label"],
                    "validation": VALIDATORS.get(item.get("validation", ""), item.get("validation", "")),
                    "lookup": item.get("lookup", "")}
            have = existing.get(item["name"])
            if have is None:
                created = self._write(f"metadata type {item['name']}: created", "POST", "metadata_types/", body)
                ids[item["name"]] = created["id"] if created else -1
                continue
            ids[item["name"]] = have["id"]
            differ = sorted(k for k in ("label", "validation", "lookup") if (have.get(k) or "") != body[k])
            if differ:
                self._write(f"metadata type {item['name']}: {', '.join(differ)} corrected", "PATCH",
                            f"metadata_types/{have['id']}/", {k: body[k] for k in differ})
        return ids

    def document_types(self, wanted: list[dict], metadata_ids: dict[str, int]) -> dict[str, int]:
        existing = {d["label"]: d for d in self.mayan.all("document_types/")}
        ids = {}
        for item in wanted:
            have = existing.get(item["label"])
            if have is None:
                created = self._write(f"document type {item['label']}: created", "POST", "document_types/",
                                      {"label": item["label"]})
                ids[item["label"]] = created["id"] if created else -1
                links = {}
            else:
                ids[item["label"]] = have["id"]
                links = {link["metadata_type"]["name"]: link
                         for link in self.mayan.all(f"document_types/{have['id']}/metadata_types/")}
            for meta in item.get("metadata", []):
                required = bool(meta.get("required", False))
                link = links.get(meta["name"])
                where = f"document type {item['label']}: metadata {meta['name']}"
                if link is None:
                    self._write(f"{where} added", "POST", f"document_types/{ids[item['label']]}/metadata_types/",
                                {"metadata_type_id": metadata_ids[meta["name"]], "required": required})
                elif bool(link["required"]) != required:
                    self._write(f"{where} {'required' if required else 'optional'}", "PATCH",
                                f"document_types/{ids[item['label']]}/metadata_types/{link['id']}/",
                                {"required": required})
        return ids

    def workflows(self, wanted: list[dict], document_type_ids: dict[str, int]) -> None:
        existing = {w["internal_name"]: w for w in self.mayan.all("workflow_templates/")}
        for item in wanted:
            name = item["internal_name"]
            have = existing.get(name)
            if have is None:
                created = self._write(f"workflow {name}: created", "POST", "workflow_templates/", {
                    "internal_name": name, "label": item["label"], "auto_launch": item.get("auto_launch", True)})
                workflow_id = created["id"] if created else -1
                states, transitions, linked = {}, {}, set()
            else:
                workflow_id = have["id"]
                differ = {k: v for k, v in (("label", item["label"]), ("auto_launch", item.get("auto_launch", True)))
                          if have.get(k) != v}
                if differ:
                    self._write(f"workflow {name}: {', '.join(sorted(differ))} corrected", "PATCH",
                                f"workflow_templates/{workflow_id}/", differ)
                states = {s["label"]: s for s in self.mayan.all(f"workflow_templates/{workflow_id}/states/")}
                transitions = {t["label"]: t for t in self.mayan.all(f"workflow_templates/{workflow_id}/transitions/")}
                linked = {d["label"] for d in self.mayan.all(f"workflow_templates/{workflow_id}/document_types/")}
            state_ids = {}
            for state in item.get("states", []):
                body = {"label": state["label"], "initial": bool(state.get("initial", False)),
                        "completion": int(state.get("completion", 0)), "final": bool(state.get("final", False))}
                have_state = states.get(state["label"])
                if have_state is None:
                    created = self._write(f"workflow {name}: state {state['label']} created", "POST",
                                          f"workflow_templates/{workflow_id}/states/", body)
                    state_ids[state["label"]] = created["id"] if created else -1
                    continue
                state_ids[state["label"]] = have_state["id"]
                differ = {k: v for k, v in body.items() if k != "label" and have_state.get(k) != v}
                if differ:
                    self._write(f"workflow {name}: state {state['label']} {', '.join(sorted(differ))} corrected",
                                "PATCH", f"workflow_templates/{workflow_id}/states/{have_state['id']}/", differ)
            for transition in item.get("transitions", []):
                origin, destination = state_ids[transition["origin"]], state_ids[transition["destination"]]
                have_transition = transitions.get(transition["label"])
                body = {"label": transition["label"], "origin_state_id": origin, "destination_state_id": destination}
                if have_transition is None:
                    self._write(f"workflow {name}: transition {transition['label']} created", "POST",
                                f"workflow_templates/{workflow_id}/transitions/", body)
                elif (have_transition["origin_state"]["id"], have_transition["destination_state"]["id"]) != (origin, destination):
                    self._write(f"workflow {name}: transition {transition['label']} re-pointed", "PATCH",
                                f"workflow_templates/{workflow_id}/transitions/{have_transition['id']}/", body)
            for label in item.get("document_types", []):
                if label not in linked:
                    self._write(f"workflow {name}: used for {label}", "POST",
                                f"workflow_templates/{workflow_id}/document_types/add/",
                                {"document_type_id": document_type_ids[label]})


def _check_references(params: dict) -> list[str]:
    problems = []
    metadata = {m["name"] for m in params["metadata_types"]}
    documents = {d["label"] for d in params["document_types"]}
    for d in params["document_types"]:
        problems += [f"document type {d['label']}: unknown metadata type {m['name']}"
                     for m in d.get("metadata", []) if m["name"] not in metadata]
    for w in params["workflows"]:
        states = {s["label"] for s in w.get("states", [])}
        if sum(bool(s.get("initial")) for s in w.get("states", [])) != 1:
            problems.append(f"workflow {w['internal_name']}: exactly one state must be initial")
        problems += [f"workflow {w['internal_name']}: transition {t['label']} names an unknown state"
                     for t in w.get("transitions", []) if {t["origin"], t["destination"]} - states]
        problems += [f"workflow {w['internal_name']}: unknown document type {label}"
                     for label in w.get("document_types", []) if label not in documents]
    return problems


def main() -> None:
    module = AnsibleModule(argument_spec={
        "url": {"type": "str", "required": True},
        "host_header": {"type": "str", "default": ""},
        "token": {"type": "str", "required": True, "no_log": True},
        "metadata_types": {"type": "list", "elements": "dict", "default": []},
        "document_types": {"type": "list", "elements": "dict", "default": []},
        "workflows": {"type": "list", "elements": "dict", "default": []},
        "timeout": {"type": "int", "default": 60},
    }, supports_check_mode=True)
    params = module.params
    problems = _check_references(params)
    if problems:
        module.fail_json(msg="the baseline's correspondence model is inconsistent: " + "; ".join(problems))
    baseline = Baseline(module, Mayan(module))
    try:
        metadata_ids = baseline.metadata_types(params["metadata_types"])
        document_type_ids = baseline.document_types(params["document_types"], metadata_ids)
        baseline.workflows(params["workflows"], document_type_ids)
    except MayanError as exc:
        module.fail_json(msg=str(exc), changes=baseline.changes)
    module.exit_json(changed=bool(baseline.changes), changes=baseline.changes)


if __name__ == "__main__":
    main()
