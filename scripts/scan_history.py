"""`make scan-history`: gitleaks over every commit, so a credential committed and later deleted is
still found (it must be rotated, not only removed). `make validate` scans the working tree."""

from __future__ import annotations

import sys

from scripts.manifests import ROOT
from scripts.policy.secrets import scan_history


def main() -> int:
    problems = scan_history(ROOT)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"scan-history: {len(problems)} finding(s)" if problems else "scan-history: no credentials in any commit")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
