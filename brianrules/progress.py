"""Progress of long work: a bar redrawn in place on a terminal, plain lines elsewhere.

A compiled program reports how much of its run it has simulated through
Brian2's report hook: the body of ``report_progress`` (`REPORT_BODY`) is
C++ that prints one marked line (`MARK`) with the completed fraction, at
most every `REPORT_PERIOD_S` seconds of wall time.  The program's standard
output goes to a file of its results folder; `follow` reads that file while
the program runs and hands each fraction to a callback, which moves a `Bar`.

On a terminal a `Bar` is one line at the bottom, redrawn in place; lines
written through `Bar.write` (an epoch's line) appear above it and stay.
Where the output is a file or a pipe (CI, logs), a bar writes a plain line
at most every ``every_s`` seconds and nothing else, so a log holds no
carriage returns.
"""

import contextlib
import os
import sys
import threading
import time

#: the start of the line the compiled program prints for each report
MARK = "brianrules-progress"
#: the C++ body of Brian2's ``report_progress(elapsed, completed, start, duration)``
REPORT_BODY = f'std::cout << "{MARK} " << completed << std::endl << std::flush;'
#: how often, in seconds of wall time, the program reports
REPORT_PERIOD_S = 0.25


def parse(text):
    """The last completed fraction among the marked lines of ``text``, or None."""
    last = None
    for line in text.splitlines():
        if line.startswith(MARK + " "):
            try:
                last = float(line[len(MARK) + 1:])
            except ValueError:
                continue  # a line cut in the middle of its number
    return last


@contextlib.contextmanager
def follow(path, callback, poll_s=0.1):
    """While the enclosed code runs, read the marked lines that a program
    writes to ``path`` and call ``callback(fraction)`` for each new one.
    The file of an earlier run is removed first; the program creates it
    anew (a file truncated meanwhile is read from its start again)."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
    stop = threading.Event()
    state = {"offset": 0, "buffer": ""}

    def read():
        try:
            size = os.path.getsize(path)
        except OSError:
            return
        if size < state["offset"]:  # a new run truncated the file
            state["offset"], state["buffer"] = 0, ""
        if size == state["offset"]:
            return
        with open(path, errors="replace") as f:
            f.seek(state["offset"])
            chunk = f.read()
            state["offset"] = f.tell()
        text = state["buffer"] + chunk
        complete, _, state["buffer"] = text.rpartition("\n")
        fraction = parse(complete)
        if fraction is not None:
            callback(fraction)

    def loop():
        while not stop.wait(poll_s):
            read()

    thread = threading.Thread(target=loop, name="progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        read()  # what the program wrote last


class Bar:
    """Progress through ``total`` items (``unit``), labelled ``label``.

    ``stream``: where it is drawn (standard output by default).  On a
    terminal the bar is redrawn in place (at most every ``redraw_s``); on
    anything else it writes a plain line at most every ``every_s`` seconds
    (None: never).  `write` prints a line above the bar."""

    WIDTH = 24

    def __init__(self, total, unit="samples", label="", stream=None, every_s=10.0, redraw_s=0.1, tty=None):
        self.total, self.unit, self.label = max(int(total), 1), unit, label
        self.stream = stream if stream is not None else sys.stdout
        self.tty = bool(tty if tty is not None else getattr(self.stream, "isatty", lambda: False)())
        self.every_s, self.redraw_s = every_s, redraw_s
        self.t0 = time.perf_counter()
        self.done = 0
        self._shown = False  # a bar is on the terminal's last line
        self._last = -float("inf")  # when it was last drawn or written
        self._lock = threading.Lock()

    def update(self, done):
        """``done`` items of ``total`` are finished."""
        with self._lock:
            self.done = min(max(int(done), 0), self.total)
            now = time.perf_counter()
            if self.tty:
                if now - self._last >= self.redraw_s or self.done >= self.total:
                    self._draw(now)
            elif self.every_s is not None and now - self.t0 >= self.every_s and now - self._last >= self.every_s:
                self._emit(self.text(now) + "\n")
                self._last = now

    def write(self, line):
        """A line that stays, printed above the bar."""
        with self._lock:
            if self._shown:
                self._emit("\r\033[K")
            self._emit(line + "\n")
            if self._shown:
                self._draw(time.perf_counter())

    def close(self):
        """Take the bar off the terminal's last line."""
        with self._lock:
            if self._shown:
                self._emit("\r\033[K")
                self._shown = False

    def text(self, now=None):
        """The bar's words: items done, rate, time left."""
        elapsed = (now if now is not None else time.perf_counter()) - self.t0
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else None
        head = f"{self.label} " if self.label else ""
        tail = f"{self.done}/{self.total} {self.unit}, {rate:.0f} {self.unit}/s"
        tail += f", {duration(left)} left" if left is not None and self.done < self.total else ""
        if not self.tty:
            return f"{head}{tail}"
        filled = int(round(self.WIDTH * self.done / self.total))
        return f"{head}[{'#' * filled}{'.' * (self.WIDTH - filled)}] {tail}"

    def _draw(self, now):
        self._emit("\r\033[K" + self.text(now))
        self._shown = True
        self._last = now

    def _emit(self, text):
        self.stream.write(text)
        self.stream.flush()


def duration(s):
    """``s`` seconds as 12s, 3m05s or 1h02m."""
    s = int(round(s))
    if s < 60:
        return f"{s}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"
