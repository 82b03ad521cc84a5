"""The action server reads hazm's word lists without importing hazm: the import would bring nltk and
scikit-learn into a process that uses neither (about 120 MB of the stack's memory,
docs/performance.md)."""
from __future__ import annotations

import subprocess
import sys

from hamdel.settings import PROJECT_ROOT

SCRIPT = """
import sys
from hamdel.action_server import create_app
from actions.person_shift import to_second_person, warm_up
create_app("secret")
warm_up()
to_second_person("سفارشم رو دیر آوردید")
print(sorted(m for m in ("hazm", "nltk", "sklearn") if m in sys.modules))
"""


def test_the_action_server_with_its_word_lists_loaded_does_not_import_hazm() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=PROJECT_ROOT,
                            env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
