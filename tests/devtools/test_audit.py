"""The vulnerability gate: unexplained advisories fail, explained ones pass with their reason, and
an audit that could not reach the service is reported as not done instead of passing."""

import pytest

from devtools.audit import LockAudit, judge, parse_report, read_ignores, run_pip_audit

REPORT = {
    "dependencies": [
        {"name": "aiohttp", "version": "3.9.5", "vulns": [
            {"id": "GHSA-aaaa-bbbb-cccc", "aliases": ["CVE-2024-0001"], "fix_versions": ["3.10.11"]},
        ]},
        {"name": "numpy", "version": "1.23.5", "vulns": []},
    ],
}


def test_an_unexplained_advisory_fails_and_names_its_fix():
    code, lines = judge([parse_report("rasa.lock", REPORT)], {}, required=False)
    assert code == 1
    assert any("UNEXPLAINED: aiohttp 3.9.5 GHSA-aaaa-bbbb-cccc" in line and "3.10.11" in line for line in lines)


def test_an_advisory_explained_by_an_alias_passes_with_its_reason():
    ignores = read_ignores("# header\nCVE-2024-0001  rasa 3.6 pins aiohttp<3.10; we serve no static files\n")
    code, lines = judge([parse_report("rasa.lock", REPORT)], ignores, required=False)
    assert code == 0
    assert any("explained:" in line and "static files" in line for line in lines)


def test_an_ignore_without_a_reason_is_refused():
    with pytest.raises(ValueError, match="no reason"):
        read_ignores("GHSA-aaaa-bbbb-cccc\n")


def test_when_the_service_knew_no_package_the_audit_is_not_done_and_fails_only_when_required():
    blind = {"dependencies": [{"name": "aiohttp", "skip_reason": "Dependency not found on PyPI"}]}
    audits = [parse_report("app.lock", blind)]
    code, lines = judge(audits, {}, required=False)
    assert code == 0 and any("AUDIT NOT DONE" in line for line in lines)
    assert judge(audits, {}, required=True)[0] == 1


def test_an_unreachable_service_is_not_a_pass():
    code, lines = judge([LockAudit("app.lock", unreachable="ConnectionError")], {}, required=True)
    assert code == 1 and any("unreachable" in line for line in lines)


def test_a_stale_ignore_is_pointed_out_after_a_complete_audit():
    ignores = {"GHSA-gone-gone-gone": "was fixed upstream"}
    _, lines = judge([parse_report("rasa.lock", {"dependencies": [REPORT["dependencies"][1]]})], ignores, required=False)
    assert any("GHSA-gone-gone-gone" in line and "no longer reported" in line for line in lines)


def _fake_pip_audit(tmp_path, stderr: str):
    script = tmp_path / "pip-audit"
    script.write_text(f"#!/bin/sh\necho '{stderr}' >&2\nexit 1\n")
    script.chmod(0o755)
    return str(script)


def test_a_connection_error_means_the_audit_was_not_done(tmp_path):
    fake = _fake_pip_audit(tmp_path, "requests.exceptions.ConnectionError: Max retries exceeded with url: /v1/query")
    audit = run_pip_audit("requirements/app.lock", fake)
    assert audit.unreachable and audit.audited == 0


def test_any_other_pip_audit_failure_stops_the_gate(tmp_path):
    fake = _fake_pip_audit(tmp_path, "invalid requirement: ???")
    with pytest.raises(RuntimeError, match="pip-audit failed"):
        run_pip_audit("requirements/app.lock", fake)
