#!/usr/bin/env python3
"""expect_exit.py CODE COMMAND [ARGS...]: runs COMMAND, passing its output
through, and succeeds only if it exits with status CODE (a signal never
counts), so that tests can tell a usage error (2) from an error (1)."""
import subprocess
import sys

want = int(sys.argv[1])
got = subprocess.call(sys.argv[2:])
if got != want:
    what = "killed by signal %d" % -got if got < 0 else "exited with %d" % got
    sys.stderr.write("expect_exit: %s %s, expected exit %d\n" % (sys.argv[2], what, want))
    sys.exit(1)
