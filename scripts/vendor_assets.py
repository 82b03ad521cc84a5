"""Fetch the console's browser assets from the npm registry into console/static/vendor/ (gitignored).

    .venv/bin/python scripts/vendor_assets.py          # idempotent: does nothing when all is in place

Each package is a pinned version whose tarball is checked against the sha512 integrity the registry
published for it (`dist.integrity` of https://registry.npmjs.org/<package>/<version>), so a changed
or corrupted download is refused. Only the files the console serves are extracted, with their
licences. Nothing is fetched at run time: the console serves these files itself (no CDN).

Licences: htmx.org is 0BSD (BSD-2-Clause before 2.0), Vazirmatn is SIL OFL 1.1. The dashboard's
charts are inline SVG made by the console (no chart library).
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

VENDOR_DIR = Path(__file__).resolve().parent.parent / "console" / "static" / "vendor"
REGISTRY = "https://registry.npmjs.org"
TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str  # "sha512-<base64>" as the registry publishes it
    files: dict[str, str]  # path in the tarball → path under VENDOR_DIR

    @property
    def tarball_url(self) -> str:
        return f"{REGISTRY}/{self.name}/-/{self.name.split('/')[-1]}-{self.version}.tgz"


PACKAGES = (
    Package(
        name="htmx.org", version="2.0.11",
        integrity="sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA==",
        files={"package/dist/htmx.min.js": "htmx/htmx.min.js", "package/LICENSE": "htmx/LICENSE"},
    ),
    Package(
        name="vazirmatn", version="33.0.3",
        integrity="sha512-fbjNc0CMjazZpIegWzz9OHGzI1APFboT+x7ZecXlUCtDe/nkyx7gtCTZnWS/+eeXG7fbfXymCPKJI8EsnM3iqw==",
        files={
            "package/fonts/webfonts/Vazirmatn-Regular.woff2": "vazirmatn/Vazirmatn-Regular.woff2",
            "package/fonts/webfonts/Vazirmatn-Bold.woff2": "vazirmatn/Vazirmatn-Bold.woff2",
            "package/OFL.txt": "vazirmatn/OFL.txt",
        },
    ),
)
MANIFEST = VENDOR_DIR / "manifest.json"


def _manifest() -> dict[str, str]:
    try:
        data = json.loads(MANIFEST.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _in_place(package: Package, manifest: dict[str, str]) -> bool:
    return (manifest.get(package.name) == f"{package.version} {package.integrity}"
            and all((VENDOR_DIR / target).is_file() for target in package.files.values()))


def check_integrity(data: bytes, integrity: str) -> None:
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512":
        raise ValueError(f"unsupported integrity algorithm {algorithm!r}")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if actual != expected:
        raise ValueError(f"integrity mismatch: expected sha512-{expected}, got sha512-{actual}")


def download(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "hamdel-vendor-assets"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - fixed https URL
        data: bytes = response.read()
    return data


def extract(package: Package, data: bytes) -> None:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for source, target in package.files.items():
            member = archive.extractfile(source)
            if member is None:
                raise ValueError(f"{package.name} {package.version} has no file {source}")
            path = VENDOR_DIR / target
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.name + ".part")
            partial.write_bytes(member.read())
            partial.replace(path)


def main() -> int:
    manifest = _manifest()
    changed = False
    for package in PACKAGES:
        if _in_place(package, manifest):
            continue
        print(f"vendor: {package.name} {package.version} ← {package.tarball_url}")
        try:
            data = download(package.tarball_url)
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            print(f"vendor: cannot download {package.name} {package.version} from the npm registry ({error}).\n"
                  f"        The console needs these files in {VENDOR_DIR}; connect to the internet and run\n"
                  f"        `.venv/bin/python scripts/vendor_assets.py` again (or copy the folder from another "
                  f"checkout).", file=sys.stderr)
            return 1
        try:
            check_integrity(data, package.integrity)
        except ValueError as error:
            print(f"vendor: refusing {package.name} {package.version}: {error}", file=sys.stderr)
            return 1
        extract(package, data)
        manifest[package.name] = f"{package.version} {package.integrity}"
        changed = True
    if changed:
        VENDOR_DIR.mkdir(parents=True, exist_ok=True)
        MANIFEST.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"vendor: browser assets in place in {VENDOR_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
