"""Checks numbers in a JSON object (standard input) against closed ranges.

Usage: check_json.py KEY=LOW:HIGH ... [KEY=true|false ...]
A KEY may index into an array: `probabilities.2=0.2:0.5`. Prints "OK", or
exits 1 naming the first key out of range (and the whole object).
"""
import json
import sys

result = json.load(sys.stdin)


def fail(what):
    sys.exit("mismatch: " + what + "\n" + json.dumps(result, indent=1))


for arg in sys.argv[1:]:
    key, expected = arg.split("=", 1)
    value = result
    for part in key.split("."):
        value = value[int(part)] if isinstance(value, list) else value.get(part)
        if value is None:
            fail("missing key " + key)
    if expected in ("true", "false"):
        if value is not (expected == "true"):
            fail("%s is %r, expected %s" % (key, value, expected))
        continue
    low, high = (float(v) for v in expected.split(":"))
    if not isinstance(value, (int, float)) or not low <= value <= high:
        fail("%s = %r is outside [%g, %g]" % (key, value, low, high))
print("OK")
