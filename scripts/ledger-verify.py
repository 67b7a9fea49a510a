#!/usr/bin/env python3
"""Verify a Guardline evidence ledger without Guardline: the chain rule in crates/guardline-ledger/
FORMAT.md, in Python's standard library only.

    scripts/ledger-verify.py ~/.local/share/guardline/ledger.sqlite
    guardline audit export | scripts/ledger-verify.py -
    scripts/ledger-verify.py LEDGER --anchor SEQ:HASH

Checks every record's body digest, hash and link. Checkpoint signatures (ed25519) need a library
outside the standard one and are left to `guardline audit verify`. Exit 0 intact, 1 not, 2 error.
"""
import hashlib
import json
import sqlite3
import sys

GENESIS = "0" * 64


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def records_from(path):
    if path == "-":
        for line in sys.stdin:
            if line.strip():
                r = json.loads(line)
                # JSONL carries the body as JSON; its canonical form is the stored text.
                r["body"] = None if r["body"] is None else canonical(r["body"])
                yield r
        return
    with open(path, "rb") as f:
        is_sqlite = f.read(16) == b"SQLite format 3\x00"
    if not is_sqlite:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    r["body"] = None if r["body"] is None else canonical(r["body"])
                    yield r
        return
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    cols = ["seq", "time", "kind", "tenant", "body", "body_sha256", "prev_hash", "hash"]
    for row in db.execute(f"SELECT {', '.join(cols)} FROM ledger_events ORDER BY seq"):
        yield dict(zip(cols, row))


def record_hash(r):
    header = canonical({
        "body_sha256": r["body_sha256"],
        "kind": r["kind"],
        "seq": r["seq"],
        "tenant": r["tenant"],
        "time": r["time"],
    })
    try:
        prev = bytes.fromhex(r["prev_hash"])
    except ValueError:
        prev = bytes(32)
    if len(prev) != 32:
        prev = bytes(32)
    return hashlib.sha256(prev + header.encode("utf-8")).hexdigest()


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 2 if len(argv) < 2 else 0
    anchor = None
    if "--anchor" in argv:
        seq, _, h = argv[argv.index("--anchor") + 1].partition(":")
        anchor = (int(seq), h.lower())
    problems = []
    expected, prev, count, last = 1, GENESIS, 0, 0
    for r in records_from(argv[1]):
        count += 1
        seq = r["seq"]
        if seq != expected:
            problems.append((expected, f"missing records {expected}..{seq - 1}"))
        elif r["prev_hash"] != prev:
            problems.append((seq, "broken link to the previous record"))
        if r["body"] is not None and hashlib.sha256(r["body"].encode("utf-8")).hexdigest() != r["body_sha256"]:
            problems.append((seq, "body altered"))
        if record_hash(r) != r["hash"]:
            problems.append((seq, "record altered"))
        if anchor and anchor[0] == seq and anchor[1] != r["hash"]:
            problems.append((seq, "does not match the anchor"))
        expected, prev, last = seq + 1, r["hash"], seq
    if anchor and anchor[0] > last:
        problems.append((anchor[0], f"truncated: chain ends at {last}"))
    if problems:
        problems.sort()
        seq, what = problems[0]
        print(f"ledger NOT intact: first bad record {seq}: {what} ({len(problems)} problems)")
        return 1
    print(f"ledger intact: {count} records, head {last} {prev}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (OSError, sqlite3.Error, ValueError, KeyError) as e:
        print(f"ledger-verify: error: {e}", file=sys.stderr)
        sys.exit(2)
