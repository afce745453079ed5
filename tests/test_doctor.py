"""`hubembed doctor`, run as a user would: offline, against LocalHub, and against an endpoint that is down."""

from __future__ import annotations

import importlib.metadata as md
import json
import socket

import pytest

from hubembed.testing.hub_server import LocalHub

TOKEN = "hf_doctor_0123456789abcdef"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with LocalHub(tmp_path_factory.mktemp("hub")) as server:
        server.add_user("carol", TOKEN)
        yield server


def doctor(run_cli, tmp_path, *args, **env):
    home = {"HF_HOME": str(tmp_path / "hf-home"), "HF_TOKEN": "", **env}  # no login saved on this machine counts
    return run_cli("doctor", *args, env=home)


def test_offline_report_names_versions_hardware_and_plugins(run_cli, tmp_path):
    result = doctor(run_cli, tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"transformers           {md.version('transformers')}" in out
    assert "not contacted (HF_HUB_OFFLINE is set)" in out
    assert "runs use precision" in out and "torch threads" in out
    assert "hubembed.lora.v1" in out and "BROKEN" not in out


def test_json_matches_the_installed_set_and_the_lock(run_cli, tmp_path):
    facts = json.loads(doctor(run_cli, tmp_path, "--json").stdout)
    key = {p["name"]: p for p in facts["packages"]["key"]}
    assert key["peft"]["installed"] == md.version("peft")
    assert facts["packages"]["lock_size"] > 50  # the shipped lock was found and read
    assert key["sentence-transformers"]["locked"] is not None
    assert {p["name"] for p in facts["plugins"]} >= {"hubembed.mnr.v1", "hubembed.lora.v1", "hubembed.stsb.v1"}
    assert facts["hub"]["answers"] is None and facts["hub"]["token"] is None


def test_online_against_local_hub_says_who_and_never_the_token(run_cli, tmp_path, hub):
    result = doctor(run_cli, tmp_path, HF_HUB_OFFLINE="0", HF_ENDPOINT=hub.endpoint, HF_TOKEN=TOKEN)
    assert result.returncode == 0, result.stderr
    assert f"endpoint {hub.endpoint}: answers (token of user carol)" in result.stdout
    assert "token    from HF_TOKEN" in result.stdout
    assert TOKEN not in result.stdout + result.stderr


def test_an_endpoint_that_does_not_answer_is_a_problem(run_cli, tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = doctor(run_cli, tmp_path, "--json", HF_HUB_OFFLINE="0", HF_ENDPOINT=f"http://127.0.0.1:{port}",
                    HF_HUB_ETAG_TIMEOUT="2", HF_HUB_DOWNLOAD_TIMEOUT="2")
    assert result.returncode == 0, result.stderr  # a finding, not a failure of doctor
    facts = json.loads(result.stdout)
    assert facts["hub"]["answers"] is False
    assert any("does not answer" in p for p in facts["problems"])


def test_a_broken_plugin_is_flagged(run_cli, tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("import no_such_module_for_hubembed\n")
    result = doctor(run_cli, tmp_path, HUBEMBED_CODE=str(broken))
    assert result.returncode == 0, result.stderr
    assert "no_such_module_for_hubembed" in result.stdout and "problem(s) found:" in result.stdout


def test_a_package_off_the_lock_and_the_plugin_it_breaks_are_problems(run_cli, tmp_path):
    """A peft older than transformers wants, first on the path (the pair a fresh install got on 2026-12-01)."""
    old = tmp_path / "site" / "peft-0.1.0.dist-info"
    old.mkdir(parents=True)
    (old / "METADATA").write_text("Metadata-Version: 2.1\nName: peft\nVersion: 0.1.0\n")
    facts = json.loads(doctor(run_cli, tmp_path, "--json", PYTHONPATH=str(tmp_path / "site")).stdout)
    assert [p["installed"] for p in facts["packages"]["differ_from_lock"] if p["name"] == "peft"] == ["0.1.0"]
    assert any(p.startswith("plugin hubembed.lora.v1: LoRA cannot run here") for p in facts["problems"])
    assert any("differ from the tested lock" in p for p in facts["problems"])
