# lit configuration of kiln's IR and CLI tests.
#
# Tests are *.kir (IR with `// RUN:` and `// CHECK:` lines) and *.test (CLI
# scenarios with `# RUN:` lines). RUN lines may use:
#   kiln       the kiln tool of this build
#   FileCheck  LLVM 19's FileCheck
#   not        inverts the exit status (`not --crash` expects a signal)
#   %python    the Python 3 that configured the build (for generating inputs)
# plus lit's own %s (this file), %S (its folder), %t (a scratch path).
#
# Usually run by ctest. By hand: `lit build/tests/lit`, or for a few tests
# `lit tests/lit/cli` (finds the build in build/, or in $KILN_BUILD_DIR).
import os
import re

import lit.formats

if not hasattr(config, "kiln_bin_dir"):
    # Started on the source tree: load the site config of a build, which
    # loads this file again with the build's paths filled in.
    source_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    build_dir = lit_config.params.get("build") or os.environ.get("KILN_BUILD_DIR") or "build"
    build_dir = os.path.join(source_root, build_dir) if not os.path.isabs(build_dir) else build_dir
    site = os.path.join(build_dir, "tests", "lit", "lit.site.cfg.py")
    if not os.path.exists(site):
        lit_config.fatal(
            "no build found at %s: configure and build kiln first (scripts/setup), or "
            "pass --param build=DIR" % build_dir
        )
    lit_config.load_config(config, site)
else:
    config.name = "kiln"
    config.test_format = lit.formats.ShTest(execute_external=False)
    config.suffixes = [".kir", ".test"]
    config.excludes = ["Inputs"]
    config.test_source_root = os.path.dirname(os.path.abspath(__file__))
    config.test_exec_root = os.path.join(config.kiln_obj_root, "tests", "lit")

    llvm_bin = os.path.dirname(config.filecheck)
    config.environment["PATH"] = os.pathsep.join(
        [config.kiln_bin_dir, llvm_bin, config.environment.get("PATH", "")]
    )
    # Keep diagnostics stable whatever the user's settings.
    config.environment["LC_ALL"] = "C"

    def add_tool(name, command):
        # Whole words only: not inside paths (foo/kiln), file names
        # (kiln-run.test), options (--not) or messages ("kiln: error").
        pattern = r"(?<![\w./%-])" + re.escape(name) + r"(?![\w./:-])"
        config.substitutions.append((pattern, command))

    add_tool("kiln", os.path.join(config.kiln_bin_dir, "kiln"))
    add_tool("FileCheck", config.filecheck)
    if config.not_tool:
        add_tool("not", config.not_tool)
    config.substitutions.append(("%python", config.python))
