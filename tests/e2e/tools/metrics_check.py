#!/usr/bin/env python3
"""metrics_check.py -- check a Prometheus text exposition as a scraper would.

    metrics_check.py FILE [EXPECT...]

Parses FILE (the body of GET /metrics, text format 0.0.4) and prints one
line per problem; exits 1 if there is any:

  - a line that is not a comment, a blank or a sample;
  - a series (metric name plus its full label set, in any order) that
    appears more than once: Prometheus keeps one of the samples and
    silently drops the others;
  - an EXPECT that does not hold. EXPECT is  name{l1="v1",...}=VALUE :
    the sample with exactly that name and label set must exist and have
    that value.

Label values may contain braces, commas and escaped quotes (route
patterns such as "/fhir/{type}/{id}" do). Standard library only.
"""

import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE = re.compile(r"^(%s)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$" % NAME)
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)')


def labels_of(text):
    """The labels of a {...} block as a dict, or None if malformed."""
    out, pos = {}, 0
    while pos < len(text):
        m = LABEL.match(text, pos)
        if m is None or m.group(1) in out:
            return None
        out[m.group(1)] = m.group(2)
        pos = m.end()
    return out


def series(line):
    """(name, frozen labels, value) of a sample line, or None."""
    m = SAMPLE.match(line)
    if m is None:
        return None
    labels = labels_of(m.group(2) or "")
    if labels is None:
        return None
    return m.group(1), frozenset(labels.items()), m.group(3)


def main():
    problems = []
    seen = {}
    with open(sys.argv[1], encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if line == "" or line.startswith("#"):
                continue
            s = series(line)
            if s is None:
                problems.append("line %d is not a sample: %s" % (n, line))
                continue
            key = (s[0], s[1])
            if key in seen:
                problems.append("series repeated (lines %d and %d): %s"
                                % (seen[key][0], n, line))
                continue
            seen[key] = (n, float(s[2]))
    for want in sys.argv[2:]:
        sample, _, value = want.rpartition("=")
        s = series(sample + " " + value)
        if s is None:
            problems.append("bad EXPECT: " + want)
        elif (s[0], s[1]) not in seen:
            problems.append("missing: " + sample)
        elif seen[(s[0], s[1])][1] != float(value):
            problems.append("%s is %g, expected %s"
                            % (sample, seen[(s[0], s[1])][1], value))
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
