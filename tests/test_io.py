import signal
import subprocess
import sys
import time

import pytest

from betavae.io import atomic_write, write_json
from tests.conftest import REPO


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out.json"
    write_json(path, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_write(path) as f:
            f.write('{"half":')
            raise RuntimeError("killed mid-write")
    assert path.read_text() == '{\n  "a": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_process_killed_mid_write_leaves_no_file_under_the_final_name(tmp_path):
    path = tmp_path / "metrics.json"
    script = ("import sys, time\n"
              "from betavae.io import atomic_write\n"
              "with atomic_write(sys.argv[1]) as f:\n"
              "    f.write('{\"partial\": '); f.flush(); print('writing', flush=True); time.sleep(60)\n")
    process = subprocess.Popen([sys.executable, "-c", script, str(path)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "writing"
    time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert not path.exists()
    leftovers = list(tmp_path.iterdir())
    assert all(p.name.startswith(".metrics.json.") and p.name.endswith(".tmp") for p in leftovers)


def test_written_files_are_readable_by_others(tmp_path):
    write_json(tmp_path / "x.json", [])
    assert (tmp_path / "x.json").stat().st_mode & 0o777 == 0o644
