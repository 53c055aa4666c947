#!/usr/bin/env python3
"""Checks every feed below a folder with parsers that are not ours.

RSS and Atom files must parse in feedparser with bozo 0; JSON Feeds must validate against
the JSON Feed 1.1 schema beside this file (with URI and date-time formats checked) and carry
RFC 3339 dates; OPML must be well-formed with an xmlUrl on every feed outline. Prints one
line per failure and exits 1 if there were any.
"""
import json
import pathlib
import re
import sys
import urllib.parse
import xml.etree.ElementTree as ET

import feedparser
import jsonschema

SCHEMA = json.loads((pathlib.Path(__file__).parent / "jsonfeed-1.1.schema.json").read_text())
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def check_xml_feed(path):
    parsed = feedparser.parse(path.read_bytes())
    if parsed.bozo:
        return [f"feedparser: {parsed.bozo_exception!r}"]
    if parsed.version not in ("rss20", "atom10"):
        return [f"feedparser: unexpected version {parsed.version!r}"]
    return [f"entry without id: {e.get('title')!r}" for e in parsed.entries if not e.get("id")]


URL_KEYS = {"home_page_url", "feed_url", "url", "external_url", "image", "banner_image", "icon", "favicon"}
DATE_KEYS = {"date_published", "date_modified"}


def check_json_feed(path):
    feed = json.loads(path.read_text(encoding="utf-8"))
    problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(feed)]
    # jsonschema checks `uri` and `date-time` only with optional extras installed, so the
    # two formats that matter are checked here by hand.
    for where, obj in [("feed", feed)] + [(f"item {i.get('id')}", i) for i in feed.get("items", [])]:
        for key, value in obj.items():
            if key in URL_KEYS:
                parts = urllib.parse.urlsplit(value)
                if parts.scheme not in ("http", "https") or not parts.netloc or not value.isascii() or " " in value:
                    problems.append(f"{where}: {key} is not an absolute, encoded URL: {value!r}")
            if key in DATE_KEYS and not RFC3339.match(value):
                problems.append(f"{where}: {key} is not RFC 3339: {value!r}")
    return problems


def check_opml(path):
    root = ET.parse(path).getroot()
    problems = [] if root.tag == "opml" else ["root is not <opml>"]
    for outline in root.iter("outline"):
        if outline.get("type") == "rss" and not outline.get("xmlUrl"):
            problems.append(f"outline {outline.get('text')!r} has no xmlUrl")
    return problems


def main(root):
    checks = {".xml": check_xml_feed, ".json": check_json_feed, ".opml": check_opml}
    failures = 0
    count = 0
    for path in sorted(pathlib.Path(root).rglob("*")):
        check = checks.get(path.suffix)
        if not path.is_file() or check is None:
            continue
        count += 1
        try:
            problems = check(path)
        except Exception as e:  # a crash in a parser is a failure of the file, not of the script
            problems = [repr(e)]
        for problem in problems:
            failures += 1
            print(f"{path}: {problem}")
    print(f"checked {count} files, {failures} failures")
    return 1 if failures or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
