"""Validates file events against events.schema.json (JSON Schema 2020-12): the committed
examples in events/file-events/ (one per type, made by the code; see
tests/tests/api/events.rs) and, with --captured DIR, every event the test suite received (from
EventBridge on moto, and from stowage-local's webhooks). Fails on any invalid event, on a
missing type, and on a capture dir with nothing in it.

    .venv/bin/python scripts/check_events.py [--captured target/captured-events]
"""

import argparse
import json
import pathlib
import sys

import jsonschema

ROOT = pathlib.Path(__file__).resolve().parent.parent
TYPES = {f"stowage.file.{t}" for t in ("created", "uploaded", "failed", "updated", "deleted", "expired",
                                          "trashed", "restored", "version_restored")}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--captured", type=pathlib.Path)
    args = parser.parse_args()

    schema = json.loads((ROOT / "events.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())

    events = []
    samples = sorted((ROOT / "events" / "file-events").glob("*.json"))
    for path in samples:
        events.append((path.relative_to(ROOT), json.loads(path.read_text())))
    missing = TYPES - {event["detail-type"] for _, event in events}
    if missing:
        print(f"check_events: no example of {sorted(missing)} in events/file-events/", file=sys.stderr)
        return 1
    if args.captured is not None:
        files = sorted(args.captured.glob("*.json"))
        if not files:
            print(f"check_events: no captured events in {args.captured}", file=sys.stderr)
            return 1
        for path in files:
            for i, event in enumerate(json.loads(path.read_text())):
                events.append((f"{path}[{i}]", event))

    failures = 0
    for where, event in events:
        for error in validator.iter_errors(event):
            failures += 1
            print(f"{where}: {error.json_path}: {error.message}", file=sys.stderr)
    print(f"check_events: {len(events)} events checked against events.schema.json, {failures} problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
