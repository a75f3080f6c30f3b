"""Progress: the marked lines a compiled program prints, the file they are
read from while it runs, the bar on a terminal and in a log, and a training
whose standard output holds its epoch lines and no simulator lines."""

import io
import os
import threading
import time

import pytest

from brianrules.progress import MARK, Bar, duration, follow, parse


def test_parse_takes_the_last_complete_marked_line():
    text = f"noise\n{MARK} 0.25\n{MARK} 0.5\nother {MARK} 0.9\n{MARK} 0.7x\n"
    assert parse(text) == 0.5
    assert parse("nothing here\n") is None


def test_follow_reads_fractions_while_the_file_grows_and_after_a_truncation(tmp_path):
    path = tmp_path / "stdout.txt"
    seen = []

    def program():
        time.sleep(0.05)
        with open(path, "w") as f:  # created after the reader started
            for x in (0.0, 0.3, 0.6):
                f.write(f"{MARK} {x}\n")
                f.flush()
                time.sleep(0.06)
            f.write(f"{MARK} 0.9")  # an unfinished line is not read yet
            f.flush()
            time.sleep(0.06)
            f.write("\n")

    with follow(str(path), seen.append, poll_s=0.01):
        t = threading.Thread(target=program)
        t.start()
        t.join()
    assert seen[-1] == 0.9
    assert seen == sorted(seen) and 0.3 in seen
    # the file of the run before is not read: only what the next run writes
    seen.clear()
    with follow(str(path), seen.append, poll_s=0.01):
        time.sleep(0.03)
        with open(path, "w") as f:
            f.write(f"{MARK} 1\n")
    assert seen == [1.0]


def test_bar_off_a_terminal_writes_plain_lines_no_more_often_than_asked():
    out = io.StringIO()
    bar = Bar(100, "samples", "epoch 1", stream=out, every_s=0.05, tty=False)
    bar.update(10)  # before every_s has passed since the start: nothing
    assert out.getvalue() == ""
    time.sleep(0.06)
    bar.update(50)
    bar.update(60)  # too soon after the last line
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and "\r" not in out.getvalue()
    assert lines[0].startswith("epoch 1 50/100 samples, ") and "samples/s" in lines[0] and "left" in lines[0]


def test_bar_on_a_terminal_redraws_in_place_and_keeps_lines_written_above_it():
    out = io.StringIO()
    bar = Bar(4, "points", "sweep", stream=out, redraw_s=0.0, tty=True)
    bar.update(1)
    bar.write("point a: done")
    bar.update(4)
    bar.close()
    text = out.getvalue()
    # the kept line is whole, with the bar cleared before it and drawn again after it
    assert "\r\033[Kpoint a: done\n\r\033[Ksweep [" in text
    assert "[########################] 4/4 points" in text
    assert text.endswith("\r\033[K")  # closed: the last line is empty again
    assert [line for line in text.replace("\r\033[K", "\n").splitlines() if line and "[" not in line] == ["point a: done"]


def test_duration_words():
    assert [duration(s) for s in (4.4, 65, 3725)] == ["4s", "1m05s", "1h02m"]


@pytest.mark.slow
@pytest.mark.standalone
def test_a_program_built_with_reports_reports_its_run_and_prints_nothing(build_root, capfd):
    """The C++ program's reports reach the callback, rising to 1 at the
    run's end; its standard output goes to its results folder, not to the
    terminal."""
    import numpy as np

    from brianrules.devices import StandaloneRunner
    from conftest import small_inputs, small_spec

    spec = small_spec(hidden=(20,))
    n = 400  # long enough to report more than its start and end
    runner = StandaloneRunner(spec, n, build_dir=str(build_root / "progress"), progress=True, log=lambda *a: None)
    try:
        weights, feedback, stim, tgt, learn = small_inputs(spec, n)
        capfd.readouterr()
        seen = []
        result = runner.run(weights, feedback, stim, tgt, learn, 7, on_progress=seen.append)
        printed = capfd.readouterr().out
        assert seen and seen[-1] == pytest.approx(1.0) and seen == sorted(seen)
        assert "Starting simulation" not in printed and MARK not in printed
        with open(os.path.join(runner.build_dir, runner._results, "stdout.txt")) as f:
            assert f"{MARK} 1" in f.read()
        # the same run without a callback gives the same network (reports change no state)
        again = runner.run(weights, feedback, stim, tgt, learn, 7)
        assert all(np.array_equal(a, b) for a, b in zip(result.weights, again.weights))
    finally:
        runner.close()
