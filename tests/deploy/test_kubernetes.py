"""The Kubernetes manifest: kubernetes-validate against pinned versions, then the rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from alchemiser_cli.domain.plan import parse_plan
from tests.deploy.helpers import MANIFEST, NEW_YORK, SECRET_WORDS, accounts, run, validator

# The Kubernetes version the manifest is pinned to, and the oldest it supports: CronJob's
# timeZone field is GA (no feature gate) from 1.27 on.
PINNED_KUBERNETES = "1.33.0"
OLDEST_KUBERNETES = "1.27.0"

DOCS: list[dict[str, Any]] = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]
CRONJOBS = [d for d in DOCS if d["kind"] == "CronJob"]


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in DOCS if d["kind"] == kind}


def pod(job: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return spec


def containers(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod(job).get("initContainers", []), *pod(job)["containers"]]


def account_of(job: dict[str, Any]) -> str:
    name: str = job["metadata"]["labels"]["alch/account"]
    return name


@pytest.mark.parametrize("version", [PINNED_KUBERNETES, OLDEST_KUBERNETES])
def test_kubernetes_validate_passes_in_strict_mode(version):
    result = run(validator("kubernetes-validate"), "--strict", "--kubernetes-version", version,
                 str(MANIFEST))
    assert result.returncode == 0, result.stdout + result.stderr
    # every resource of the file was checked, none skipped for a missing schema
    assert result.stdout.count(" passed for resource ") == len(DOCS), result.stdout


def test_kubernetes_validate_rejects_a_misspelt_field(tmp_path: Path):
    """The check above can fail: a typo in the CronJob spec is an unknown property."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(MANIFEST.read_text().replace("concurrencyPolicy:", "concurencyPolicy:", 1))
    result = run(validator("kubernetes-validate"), "--strict", "--kubernetes-version",
                 PINNED_KUBERNETES, str(bad))
    assert result.returncode != 0
    assert "concurencyPolicy" in result.stdout + result.stderr


def test_one_cronjob_per_account_on_the_new_york_schedule_never_overlapping():
    assert sorted(account_of(j) for j in CRONJOBS) == sorted(accounts())
    for job in CRONJOBS:
        spec = job["spec"]
        assert spec["concurrencyPolicy"] == "Forbid"
        assert spec["timeZone"] == NEW_YORK
        assert spec["schedule"] == "0 10 * * 1-5"  # as the systemd timer: weekdays 10:00
        assert spec["startingDeadlineSeconds"] <= 3600  # a missed run is not run hours late
        assert spec["jobTemplate"]["spec"]["backoffLimit"] == 0  # no automatic re-run
        assert pod(job)["restartPolicy"] == "Never"


def test_the_jobs_differ_only_in_their_account():
    first, *others = CRONJOBS
    for job in others:
        renamed = json.dumps(job).replace(account_of(job), account_of(first)).replace(
            account_of(job).upper(), account_of(first).upper())
        if accounts()[account_of(job)]["mode"] != accounts()[account_of(first)]["mode"]:
            renamed = renamed.replace(f'"--{accounts()[account_of(job)]["mode"]}"',
                                      f'"--{accounts()[account_of(first)]["mode"]}"')
        assert json.loads(renamed) == first


def test_pods_run_as_non_root_with_no_privileges_and_resource_limits():
    for job in CRONJOBS:
        spec = pod(job)
        security = spec["securityContext"]
        assert security["runAsNonRoot"] is True and security["runAsUser"] != 0
        assert security["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        for container in containers(job):
            own = container["securityContext"]
            assert own["allowPrivilegeEscalation"] is False
            assert own["readOnlyRootFilesystem"] is True
            assert own["capabilities"]["drop"] == ["ALL"]
            for kind in ("requests", "limits"):
                assert set(container["resources"][kind]) == {"cpu", "memory"}, container["name"]
            image = container["image"]
            assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), image


def test_the_uid_is_the_one_the_image_creates():
    from tests.deploy.test_container import IMAGE_UID

    for job in CRONJOBS:
        assert pod(job)["securityContext"]["runAsUser"] == IMAGE_UID
        assert pod(job)["securityContext"]["fsGroup"] == IMAGE_UID


def test_each_account_keeps_its_data_dir_on_its_own_claim():
    claims = by_kind("PersistentVolumeClaim")
    used = []
    for job in CRONJOBS:
        volumes = {v["name"]: v for v in pod(job)["volumes"]}
        for container in containers(job):
            env = {e["name"]: e for e in container["env"]}
            data_dir = env["ALCH_DATA_DIR"]["value"]
            [mount] = [m for m in container["volumeMounts"] if m["mountPath"] == data_dir]
            assert not mount.get("readOnly", False)
            claim = volumes[mount["name"]]["persistentVolumeClaim"]["claimName"]
            assert claim in claims
            assert claims[claim]["metadata"]["labels"]["alch/account"] == account_of(job)
        used.append(claim)
    assert len(set(used)) == len(CRONJOBS)


def test_credentials_come_from_the_accounts_secret_and_are_never_inlined():
    assert not [d for d in DOCS if d["kind"] == "Secret"]
    text = MANIFEST.read_text()
    assert "stringData" not in text and "APCA_API" not in text
    for job in CRONJOBS:
        account = accounts()[account_of(job)]
        for container in containers(job):
            env = {e["name"]: e for e in container["env"]}
            assert "envFrom" not in container
            for name, entry in env.items():
                if any(word in name for word in SECRET_WORDS):
                    assert "value" not in entry, name
                    ref = entry["valueFrom"]["secretKeyRef"]
                    assert ref["name"] == f"alch-{account_of(job)}", name
            # the variables the account's config names are exactly the ones provided
            assert {account["key_id_env"], account["secret_key_env"]} <= set(env)
        volumes = {v["name"]: v for v in pod(job)["volumes"]}
        assert volumes["config"]["secret"]["secretName"] == "alch-config"


def test_commands_name_their_account_and_the_accounts_broker_explicitly():
    for job in CRONJOBS:
        name = account_of(job)
        mode = accounts()[name]["mode"]
        verify, rebalance = (c["args"] for c in containers(job))
        assert verify[0] == "verify" and rebalance[0] == "rebalance"
        for args in (verify, rebalance):
            assert args[args.index("--account") + 1] == name
            assert [a for a in args if a in ("--sim", "--paper", "--live")] == [f"--{mode}"]
            assert "--json" in args
        assert "--yes" in rebalance and "--yes" not in verify


def test_the_plans_are_valid_and_each_job_reads_its_own():
    plans = by_kind("ConfigMap")["alch-plans"]["data"]
    for job in CRONJOBS:
        container = pod(job)["containers"][0]
        plan_path = container["args"][1]
        [mount] = [m for m in container["volumeMounts"] if plan_path.startswith(m["mountPath"])]
        key = plan_path.removeprefix(mount["mountPath"] + "/")
        assert key == f"{account_of(job)}.toml"
        plan = parse_plan(plans[key], source=key)
        assert plan.targets
