"""Scrape hbd's Prometheus endpoint from inside a node, every `--every-ms`, into a JSON-lines file.

    python -m lab.node.scraper --url http://127.0.0.1:9694/metrics --node bob --out metrics.jsonl \\
        --until-file .stop

One record per attempt: `{"mono", "sent_mono", "source": "metrics", "event": "metrics.scrape", "node", "ok",
"samples": [[name, {labels}, value], ...]}` (histogram buckets and `_created` samples left out), or `"ok":
false` with the `error`. `sent_mono` and `mono` bracket the moment the daemon answered: the lab's
`metrics_agree` check compares the counters with the node's events.jsonl inside that window. The daemon's
port is not open before it serves: failed attempts are recorded and the scraper keeps going until the stop
file appears (or it is killed with its node).
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

TIMEOUT_S = 2.0
SKIPPED_SUFFIXES = ("_bucket", "_created")  # the check compares counters; buckets and timestamps are bulk


def scrape(url: str) -> dict[str, Any]:
    """One attempt: the samples, or why there are none."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as answer:
            text = answer.read().decode("utf-8", "replace")
    except (OSError, urllib.error.URLError) as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    samples = [
        [s.name, dict(s.labels), s.value]
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if not s.name.endswith(SKIPPED_SUFFIXES)
    ]
    return {"ok": True, "samples": samples}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab.node.scraper", description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--node", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--every-ms", type=float, default=250.0)
    parser.add_argument("--until-file", type=Path, help="stop once this file exists")
    args = parser.parse_args(argv)
    every_s = args.every_ms / 1000.0
    with args.out.open("a", encoding="utf-8") as out:
        while args.until_file is None or not args.until_file.exists():
            sent = time.monotonic()
            result = scrape(args.url)
            record = {"mono": time.monotonic(), "sent_mono": sent, "source": "metrics"}
            record |= {"event": "metrics.scrape", "node": args.node, **result}
            out.write(json.dumps(record) + "\n")
            out.flush()
            time.sleep(max(0.0, every_s - (time.monotonic() - sent)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
