"""Known-vulnerability gate over the lock files (`scripts/test.sh audit`).

pip-audit checks every pinned package of ``requirements/*.lock`` against the vulnerability service
(PyPI's per-release advisories by default). The gate fails on any advisory that
``requirements/audit-ignore.txt`` does not explain; an explanation is the advisory id followed by a
one-line reason, and an id without a reason is refused, so nothing is ignored silently.

Why this wrapper and not ``pip-audit --ignore-vuln``: when the service cannot be reached, pip-audit
marks each package "skipped" and still prints "No known vulnerabilities found" with exit code 0, a
pass that audited nothing. Here an audit that could not look is reported as NOT DONE, in a banner,
and fails when ``HAMDEL_AUDIT_REQUIRED=1`` (for a runner known to reach the service). It does not
fail by default because the build machines reach the package registries' download endpoints but not
the advisory endpoints, so a hard failure there would block every change without telling anyone
anything; the banner keeps the gap visible in every test log instead.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LOCKS = ("requirements/rasa.lock", "requirements/app.lock")
DEFAULT_IGNORE_FILE = "requirements/audit-ignore.txt"
# pip-audit's words for a service it could not reach, as opposed to a broken lock file.
UNREACHABLE = re.compile(r"ConnectionError|ConnectTimeout|ReadTimeout|Max retries|NameResolution|Temporary failure", re.I)


@dataclass(frozen=True)
class Advisory:
    """One known vulnerability of one pinned package."""

    package: str
    version: str
    id: str
    aliases: tuple[str, ...]
    fixed_in: tuple[str, ...]


@dataclass
class LockAudit:
    """What the service said about one lock file."""

    lock: str
    audited: int = 0
    skipped: list[str] = field(default_factory=list)
    skip_reason: str = ""
    advisories: list[Advisory] = field(default_factory=list)
    unreachable: str = ""


def read_ignores(text: str) -> dict[str, str]:
    """Advisory id -> reason, from ``ID  reason`` lines; ``#`` starts a comment line.

    An id without a reason raises ValueError: the file exists to explain, not to silence.
    """
    ignores: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        advisory_id, _, reason = line.partition(" ")
        if not reason.strip():
            raise ValueError(f"audit-ignore line {number}: {advisory_id} has no reason")
        ignores[advisory_id] = reason.strip()
    return ignores


def parse_report(lock: str, report: dict) -> LockAudit:
    """Turns pip-audit's JSON report into audited/skipped counts and advisories."""
    result = LockAudit(lock)
    for dependency in report.get("dependencies", []):
        if "skip_reason" in dependency:
            result.skipped.append(dependency["name"])
            result.skip_reason = result.skip_reason or dependency["skip_reason"]
            continue
        result.audited += 1
        for vuln in dependency.get("vulns", []):
            result.advisories.append(Advisory(
                package=dependency["name"], version=dependency.get("version", "?"), id=vuln["id"],
                aliases=tuple(vuln.get("aliases", [])), fixed_in=tuple(vuln.get("fix_versions", [])),
            ))
    return result


def run_pip_audit(lock: str, pip_audit: str) -> LockAudit:
    """Runs pip-audit over one hashed lock without installing it (``--disable-pip``)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        proc = subprocess.run(
            [pip_audit, "--requirement", lock, "--disable-pip", "--format", "json", "--output", str(out),
             "--progress-spinner", "off", "--aliases", "on", "--desc", "off"],
            cwd=ROOT, capture_output=True, text=True, check=False,
        )
        if out.exists() and out.stat().st_size:
            return parse_report(lock, json.loads(out.read_text()))
    if UNREACHABLE.search(proc.stderr):
        return LockAudit(lock, unreachable=proc.stderr.strip().splitlines()[-1])
    raise RuntimeError(f"pip-audit failed on {lock} (exit {proc.returncode}):\n{proc.stderr[-2000:]}")


def judge(audits: list[LockAudit], ignores: dict[str, str], *, required: bool) -> tuple[int, list[str]]:
    """Exit code and the lines to print: unexplained advisories fail; an audit that could not look
    fails only when required."""
    lines: list[str] = []
    unexplained: list[Advisory] = []
    seen_ids: set[str] = set()
    not_done = False
    for audit in audits:
        if audit.unreachable:
            not_done = True
            lines.append(f"{audit.lock}: vulnerability service unreachable ({audit.unreachable})")
            continue
        total = audit.audited + len(audit.skipped)
        lines.append(f"{audit.lock}: {audit.audited} of {total} packages audited, "
                     f"{len(audit.advisories)} advisories")
        if audit.skipped:
            not_done = not_done or audit.audited == 0
            shown = ", ".join(audit.skipped[:8]) + (" …" if len(audit.skipped) > 8 else "")
            lines.append(f"  not checked ({len(audit.skipped)}): {shown}")
            lines.append(f"  pip-audit said, for example: {audit.skip_reason}")
        for advisory in audit.advisories:
            names = (advisory.id, *advisory.aliases)
            seen_ids.update(names)
            reason = next((ignores[name] for name in names if name in ignores), None)
            if reason is None:
                unexplained.append(advisory)
            else:
                lines.append(f"  explained: {advisory.package} {advisory.version} {advisory.id}: {reason}")
    for advisory in unexplained:
        fixed = ", ".join(advisory.fixed_in) or "no fixed release"
        also = f" ({', '.join(advisory.aliases)})" if advisory.aliases else ""
        lines.append(f"UNEXPLAINED: {advisory.package} {advisory.version} {advisory.id}{also}; fixed in: {fixed}")
    if all(not audit.unreachable and not audit.skipped for audit in audits):
        stale = sorted(set(ignores) - seen_ids)
        if stale:
            lines.append(f"note: no longer reported, remove from the ignore file: {', '.join(stale)}")
    if unexplained:
        lines.append(f"{len(unexplained)} unexplained advisories: upgrade (make lock), or explain each "
                     f"in {DEFAULT_IGNORE_FILE} with its reason")
        return 1, lines
    if not_done:
        lines.append("!" * 78)
        lines.append("!! VULNERABILITY AUDIT NOT DONE: the advisory service could not be asked (see above).")
        lines.append("!! Nothing was checked; this is not a pass. HAMDEL_AUDIT_REQUIRED=1 makes it fail.")
        lines.append("!" * 78)
        return (1 if required else 0), lines
    lines.append("no unexplained advisories")
    return 0, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("locks", nargs="*", default=list(DEFAULT_LOCKS))
    parser.add_argument("--ignore-file", default=DEFAULT_IGNORE_FILE)
    parser.add_argument("--pip-audit", default=str(Path(sys.executable).with_name("pip-audit")))
    args = parser.parse_args(argv)
    ignores = read_ignores((ROOT / args.ignore_file).read_text(encoding="utf-8"))
    audits = [run_pip_audit(lock, args.pip_audit) for lock in args.locks]
    code, lines = judge(audits, ignores, required=os.environ.get("HAMDEL_AUDIT_REQUIRED") == "1")
    print("\n".join(lines))
    return code


if __name__ == "__main__":
    sys.exit(main())
