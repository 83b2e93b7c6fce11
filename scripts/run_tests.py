"""Run the test suite; what `make test` and CI call.

pytest exits 5 when it collected no test. A suite that ran nothing proves nothing, so that is a
failure here, not a pass.
"""

from __future__ import annotations

import sys

import pytest

NO_TESTS_COLLECTED = 5


def main(argv: list[str]) -> int:
    code = int(pytest.main(["-q", "--durations=10", *argv]))
    if code == NO_TESTS_COLLECTED:
        print("run_tests: pytest collected no tests; failing on purpose", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
