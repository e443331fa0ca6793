"""The Pulumi tenant stack under Pulumi's mocks: exactly the desired state, credentials secret.

Mocks prove the program's shape fast; provisioning for real is proven by the engine tests.
"""

from __future__ import annotations

import pulumi
import pytest

from spbe_kit.desired.model import DesiredState

# the marker Pulumi's wire format puts on secret values (sdk/go/common/resource/sig)
SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_SIG_VALUE = "1b47061264138c4ac30d75fd1eb44270"


class RecordingMocks(pulumi.runtime.Mocks):
    """Records every resource the program registers, with its inputs."""

    def __init__(self) -> None:
        self.resources: dict[str, pulumi.runtime.MockResourceArgs] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.resources[args.name] = args
        outputs = dict(args.inputs)
        if args.typ == "random:index/randomPassword:RandomPassword":
            outputs["result"] = "not-a-real-password-" + args.name
        return [f"{args.name}-id", outputs]

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


@pytest.fixture
def mocks():
    recorder = RecordingMocks()
    pulumi.runtime.set_mocks(recorder, preview=False)
    return recorder


def _k8s(mocks: RecordingMocks) -> dict[str, pulumi.runtime.MockResourceArgs]:
    return {name: r for name, r in mocks.resources.items() if r.typ.startswith("kubernetes:")}


@pulumi.runtime.test
def _build(state: DesiredState):
    from spbe_kit.stacks.tenant import Tenant, TenantArgs

    tenant = Tenant(state.tenant_id, TenantArgs(state=state))
    return pulumi.Output.all(*(o.urn for o in tenant.objects.values()))


def test_stack_creates_exactly_the_desired_objects(mocks, example_state):
    _build(example_state)
    created = _k8s(mocks)
    assert sorted(created) == sorted(m.resource_name for m in example_state.manifests)
    for manifest in example_state.manifests:
        inputs = dict(created[manifest.resource_name].inputs)
        inputs.pop("stringData", None)  # generated values; checked below
        assert inputs == manifest.body, f"{manifest.kind}/{manifest.name} differs from the desired state"


def test_every_generated_credential_is_a_pulumi_secret(mocks, example_state):
    from spbe_kit.stacks.tenant import Tenant, TenantArgs

    checked: list[str] = []

    @pulumi.runtime.test
    def run():
        tenant = Tenant(example_state.tenant_id, TenantArgs(state=example_state))
        checks = []
        for manifest in example_state.manifests:
            if manifest.generated_keys:
                checked.append(manifest.name)
                checks.append(_is_secret(tenant.objects[manifest.resource_name].string_data, manifest.name))
        return pulumi.Output.all(*checks)

    run()
    assert sorted(checked) == sorted(m.name for m in example_state.of_kind("Secret"))
    passwords = [r for r in mocks.resources.values() if r.typ == "random:index/randomPassword:RandomPassword"]
    assert len(passwords) == sum(len(m.generated_keys) for m in example_state.manifests)
    for p in passwords:
        assert p.inputs["length"] >= 32 and p.inputs["special"] is False


def _is_secret(output: pulumi.Output, what: str) -> pulumi.Output:
    async def check():
        assert await output.is_secret(), f"{what} is not a Pulumi secret"
        return True

    return pulumi.Output.from_input(check())


def test_secret_objects_take_their_values_from_the_generated_passwords(mocks, banyuwangi):
    _build(banyuwangi)
    created = _k8s(mocks)
    for manifest in banyuwangi.of_kind("Secret"):
        wire = created[manifest.resource_name].inputs["stringData"]
        # what reaches the engine is Pulumi's secret envelope, never the bare value
        assert wire.get(SECRET_SIG) == SECRET_SIG_VALUE, f"{manifest.name} travels unencrypted"
        data = wire["value"]
        assert sorted(data) == sorted(manifest.generated_keys)
        assert all(v.startswith("not-a-real-password-") for v in data.values())


def test_objects_wait_for_the_waves_before_them(mocks, banyuwangi):
    from spbe_kit.stacks.tenant import Tenant, TenantArgs, wave

    seen: dict[str, list[str]] = {}

    def record(args: pulumi.ResourceTransformationArgs):
        if args.type_.startswith("kubernetes:"):
            seen[args.name] = [d._name for d in (args.opts.depends_on or [])]
        return None

    @pulumi.runtime.test
    def run():
        tenant = Tenant(banyuwangi.tenant_id, TenantArgs(state=banyuwangi),
                        pulumi.ResourceOptions(transformations=[record]))
        return pulumi.Output.all(*(o.urn for o in tenant.objects.values()))

    run()
    level = {m.resource_name: wave(m) for m in banyuwangi.manifests}
    assert seen["namespace-kab-banyuwangi"] == []
    assert seen["resourcequota-spbe-quota"] == ["namespace-kab-banyuwangi"]
    for name, deps in seen.items():
        assert all(level[d] < level[name] for d in deps), name
        assert set(deps) == {n for n, lv in level.items() if lv < level[name]}, name
    assert level["statefulset-database"] == 2 and level["secret-database-superuser"] == 1
