"""Great Expectations Data Docs that work on a closed network: GX's pages load Bootstrap, jQuery,
bootstrap-table, Popper, Font Awesome and a date picker from CDNs, so offline the index shows no
list. `make setup` fetches the same libraries once (WebJars from Maven Central, like Delta's jars)
into `.vendor/gx-docs`; after each validation the site gets a copy under `static/vendor/` and every
page points there instead of the CDN."""

from __future__ import annotations

import os
import re
import shutil
import sys
import zipfile
from pathlib import Path

from jobs.settings import PROJECT_ROOT

VENDOR_DIR = PROJECT_ROOT / ".vendor" / "gx-docs"
# CDN address prefix -> folder inside the fetched WebJars (`<library>/<version>/...`).
CDN_TO_LOCAL = {
    "https://code.jquery.com/jquery-3.7.1": "jquery/3.7.1/jquery",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/": "bootstrap/4.3.1/",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/": "bootstrap/4.3.1/",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/": "popper.js/1.12.9/",
    "https://unpkg.com/bootstrap-table@1.19.1/": "bootstrap-table/1.19.1/",
    "https://unpkg.com/bootstrap-table@1.19.0/": "bootstrap-table/1.19.1/",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/": "font-awesome/6.6.0/",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/": "bootstrap-datepicker/1.9.0/",
}
# A dark-mode stylesheet with no WebJar: offline it is dropped (the pages keep their light theme).
DROPPED = re.compile(r'<link[^>]+href="https://cdn\.jsdelivr\.net/npm/@forevolve/bootstrap-dark[^"]*"[^>]*>')
# What the pages use, inside the WebJars (`META-INF/resources/webjars/<path>`).
VENDOR_FILES = (
    "jquery/3.7.1/jquery.min.js",
    "bootstrap/4.3.1/css/bootstrap.min.css",
    "bootstrap/4.3.1/js/bootstrap.min.js",
    "popper.js/1.12.9/umd/popper.min.js",
    "bootstrap-table/1.19.1/dist/bootstrap-table.min.css",
    "bootstrap-table/1.19.1/dist/bootstrap-table.min.js",
    "bootstrap-table/1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.css",
    "bootstrap-table/1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
    "bootstrap-table/1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
    "font-awesome/6.6.0/css/all.min.css",
    "font-awesome/6.6.0/webfonts/",
    "bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css",
    "bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js",
)
# The logo GX loads from its S3 bucket (with a tracking query string); the site has its own copy.
LOGO = re.compile(r'https://great-expectations-web-assets\.s3[^"]*/logo-long\.png[^"]*')
EXTERNAL = re.compile(r'(?:src|href)="(https?://[^"]+\.(?:js|css))"')


def unpack_vendor(jars: Path, out: Path = VENDOR_DIR) -> int:
    """Copy the files the pages use (`VENDOR_FILES`) out of the fetched WebJars in `jars` into
    `out`; returns how many. Raises FileNotFoundError naming any that no jar holds."""
    prefix = "META-INF/resources/webjars/"
    found: set[str] = set()
    copied = 0
    for jar in sorted(jars.glob("*.jar")):
        with zipfile.ZipFile(jar) as archive:
            for name in archive.namelist():
                path = name.removeprefix(prefix)
                wanted = [w for w in VENDOR_FILES if path == w or (w.endswith("/") and path.startswith(w))]
                if not name.startswith(prefix) or name.endswith("/") or not wanted:
                    continue
                found.update(wanted)
                (out / path).parent.mkdir(parents=True, exist_ok=True)
                (out / path).write_bytes(archive.read(name))
                copied += 1
    missing = sorted(set(VENDOR_FILES) - found)
    if missing:
        raise FileNotFoundError(f"not in the WebJars under {jars}: {missing}")
    return copied


def make_offline(site: Path, vendor: Path = VENDOR_DIR) -> list[str]:
    """Point every page of the Data Docs `site` at local copies of its scripts and styles; returns
    the script and style addresses still external (none when the vendor folder is complete).
    Re-running is harmless. Raises FileNotFoundError when `make setup` has not fetched them."""
    if not vendor.is_dir():
        raise FileNotFoundError(f"{vendor} is missing: run `make setup` (fetches the Data Docs libraries once)")
    target = site / "static" / "vendor"
    if not target.is_dir():
        shutil.copytree(vendor, target)
    left: set[str] = set()
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        prefix = os.path.relpath(target, page.parent).replace(os.sep, "/")
        rewritten = LOGO.sub(f"{os.path.relpath(site / 'static' / 'images', page.parent)}/logo-long.png".replace(
            os.sep, "/"), DROPPED.sub("", html))
        for cdn, local in CDN_TO_LOCAL.items():
            rewritten = rewritten.replace(cdn, f"{prefix}/{local}")
        if rewritten != html:  # pages already pointing at the copy are left alone
            temporary = page.with_name(f".{page.name}.offline")
            temporary.write_text(rewritten, encoding="utf-8")
            temporary.replace(page)  # atomic: a reader never sees half a page
        left.update(EXTERNAL.findall(rewritten))
    return sorted(left)


if __name__ == "__main__":  # make setup: python -m expectations.docs_offline <folder of fetched jars>
    count = unpack_vendor(Path(sys.argv[1]))
    print(f"Data Docs libraries: {count} files in {VENDOR_DIR}")
