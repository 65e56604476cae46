"""Progress bars that reach the terminal, also from inside a pytest test.

Every long loop of xaibench (training a built-in model, the engine's batched passes, a cell of the
benchmark matrix, the scaling measurement) makes its bar with ``progress_bar(total, desc, unit)``
and announces one-off facts (which model is being trained, and why) with ``announce(text)``.

Outside pytest (plain Python, ``xaibench prepare``) a bar is a ``tqdm.auto`` bar on stderr, as
always, and ``announce`` prints to stderr.

Under pytest the plugin (``xaibench.harness.plugin``) calls ``attach(config)`` at
``pytest_configure``. pytest captures a test's output (file descriptors 1 and 2 are redirected to
temporary files while the test runs), so a bar on stderr would only be seen after the test, in a
failure report. The attached terminal instead:

- in pytest's own process writes *through the capture*: inside
  ``capturemanager.global_and_fixture_disabled()`` (the way pytest's live logging does it) to the
  real stdout, the stream pytest's terminal reporter writes to. A test's own prints stay captured.
  On a terminal (stdout is a tty) a bar is one line below pytest's current line, redrawn in place
  with a carriage return at most every ``MININTERVAL_S``; when it ends the line is cleared and the
  cursor goes back to the end of pytest's line, so the dots / ``PASSED`` continue where they were.
  Bars with ``leave=True`` (training) and ``announce`` lines stay. pytest's terminal writer is
  told nothing of the redraws; permanent lines go through it (``config.get_terminal_writer()``), so
  its idea of the current column (used to align ``[ 50%]``) stays right.
- when stdout is not a tty (CI logs, ``pytest | tee``, a subprocess) it prints plain lines
  instead of redraws: one each time a bar passes another 10 % or 30 s after the previous line, and
  only for bars running longer than ``DELAY_S``, so logs stay readable.
- in a pytest-xdist worker writes plain lines, prefixed ``[gw0]``, to a duplicate of the worker's
  stderr taken at ``pytest_configure`` (before any test capture). Chosen by experiment: execnet
  points a worker's stdout (fd 1) at /dev/null, but its stderr (fd 2) is the controller's, i.e. the
  terminal pytest was started in; the duplicate bypasses the worker's per-test capture. Sending the
  lines to the controller instead is not possible while a test runs: xdist only forwards reports
  at the end of each test phase (``config.workeroutput`` only at the end of the run), while a
  training takes minutes inside one test. Lines of two workers and the controller's dots may
  interleave; that is the price of live output.

Progress is off under pytest with ``--xb-no-progress`` (``attach(config, enabled=False)``) or
``TQDM_DISABLE=1`` in the environment (which tqdm itself honours outside pytest); callers keep
their own ``progress=False`` arguments (``xaibench prepare --quiet``) and then make no bar at all.

Nothing here imports pytest, torch or tqdm at import time.
"""
from __future__ import annotations

import os
import sys
import threading
import time

#: Seconds between two redraws of a bar on a terminal (tqdm's ``mininterval``).
MININTERVAL_S = 0.5
#: In plain-line mode (no tty, xdist workers): a line per this share of the total ...
LINE_STEP = 0.10
#: ... or after this many seconds without one.
LINE_EVERY_S = 30.0
#: In plain-line mode, bars that finish sooner than this print nothing.
DELAY_S = 1.0
#: The cores a built-in model's ``train_seconds`` target refers to (``xaibench.zoo.recipes``).
REFERENCE_CORES = 2

_terminal = None      # the attached pytest terminal (None outside pytest)
_attached: list = []  # (config, terminal) of every attached run, innermost last (in-process pytest runs)
_lock = threading.RLock()


# ---- the public factory ------------------------------------------------------------------------
def progress_bar(total: int | None, desc: str, unit: str = "it", *, leave: bool = False):
    """A bar counting ``total`` ``unit``s named ``desc``: ``update(n)``, ``set_postfix(**kw)``,
    ``close()``, also a context manager. A tqdm bar on stderr outside pytest; under pytest one that
    reaches the terminal despite output capture (module docstring). ``leave``: keep its last state
    on screen after ``close()``."""
    terminal = _terminal
    if terminal is None:
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit=unit, leave=leave, dynamic_ncols=True)
    if not terminal.enabled or _disabled_by_env():
        return _NullBar()
    return _Bar(terminal, total, desc, unit, leave)


def announce(text: str) -> None:
    """Print a line of progress news (above any bar): stderr outside pytest, the terminal under it."""
    terminal = _terminal
    if terminal is None:
        print(text, file=sys.stderr, flush=True)
    elif terminal.enabled and not _disabled_by_env():
        terminal.line(text)


def training_header(name: str, cache_dir, expected_seconds: float | None, threads: int,
                    reason: str = "first use") -> str:
    """The first line of a built-in model's training: what is built, why, where it is kept and
    roughly how long it takes here. ``expected_seconds``: the recipe's training time on
    ``REFERENCE_CORES`` CPU cores (its ``train_seconds`` target), scaled to ``threads`` (torch's
    thread count; linear, with at most a 4x speed-up)."""
    where = _home_relative(str(cache_dir))
    head = f"xaibench: training built-in model {name} ({reason}; cached afterwards in {where})"
    if not expected_seconds:
        return f"{head} — this takes several minutes"
    threads = max(1, int(threads))
    seconds = float(expected_seconds) * REFERENCE_CORES / min(threads, 4 * REFERENCE_CORES)
    minutes = seconds / 60
    amount = "under a minute" if minutes < 1 else f"about {round(minutes)} min"
    cores = f"{threads} CPU core" + ("" if threads == 1 else "s")
    return f"{head} — {amount} on {cores}"


# ---- pytest attachment (called by xaibench.harness.plugin) ---------------------------------------
def attach(config, enabled: bool = True) -> None:
    """Route bars to pytest's terminal for this run (at ``pytest_configure``)."""
    global _terminal
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        terminal = _FdLines(f"[{workerinput.get('workerid', 'worker')}] ")
    else:
        reporter = config.pluginmanager.getplugin("terminalreporter")
        if reporter is None:  # -p no:terminal
            terminal = _FdLines("")
        else:
            terminal = _PytestTerminal(config.pluginmanager.getplugin("capturemanager"), reporter,
                                       config.get_terminal_writer())
    terminal.enabled = enabled
    with _lock:
        _attached.append((config, terminal))
        _terminal = terminal


def detach(config) -> None:
    """Stop routing bars to ``config``'s terminal (at ``pytest_unconfigure``): back to the run
    attached before it, or to tqdm on stderr."""
    global _terminal
    with _lock:
        mine = [entry for entry in _attached if entry[0] is config]
        for entry in mine:
            _attached.remove(entry)
        _terminal = _attached[-1][1] if _attached else None
    for _, terminal in mine:
        terminal.close()


def _disabled_by_env() -> bool:
    return os.environ.get("TQDM_DISABLE", "").strip().lower() in ("1", "true", "yes", "on")


def _home_relative(path: str) -> str:
    home = os.path.expanduser("~")
    if home and home != "~" and (path == home or path.startswith(home + os.sep)):
        return "~" + path[len(home):]
    return path


# ---- bars ----------------------------------------------------------------------------------------
class _NullBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, **values) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Bar(_NullBar):
    """A bar drawn by a pytest terminal: redrawn frames on a tty, plain lines otherwise."""

    def __init__(self, terminal, total, desc: str, unit: str, leave: bool) -> None:
        self.terminal, self.total, self.desc, self.unit, self.leave = terminal, total, desc, unit, leave
        self.n = 0
        self.postfix = ""
        self.closed = False
        self.started = time.monotonic()
        self.last_frame = float("-inf")
        self.last_line, self.last_line_n, self.last_step = self.started, None, 0
        if terminal.frames:
            self._frame()  # say at once what runs, even when its first update takes minutes

    def text(self, width: int | None = None) -> str:
        from tqdm.std import tqdm

        total = self.total if self.total else None
        return tqdm.format_meter(self.n, total, time.monotonic() - self.started, ncols=width,
                                 prefix=self.desc, unit=self.unit, postfix=self.postfix or None)

    def update(self, n: int = 1) -> None:
        if self.closed:
            return
        self.n += n
        now = time.monotonic()
        if self.terminal.frames:
            if now - self.last_frame >= MININTERVAL_S or self._done():
                self._frame()
            return
        step = int(self.n / self.total / LINE_STEP + 1e-9) if self.total else 0
        if now - self.started < DELAY_S and not self.leave:
            return
        if step > self.last_step or now - self.last_line >= LINE_EVERY_S:
            self._line()

    def set_postfix(self, **values) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.terminal.frames:
            if self.leave:
                self.terminal.line(self.text(self.terminal.width()))
            else:
                self.terminal.clear_frame()
        elif self.leave and self.last_line_n != self.n:
            self._line()

    def _done(self) -> bool:
        return bool(self.total) and self.n >= self.total

    def _frame(self) -> None:
        self.last_frame = time.monotonic()
        self.terminal.frame(self.text(self.terminal.width()))

    def _line(self) -> None:
        self.last_line, self.last_line_n = time.monotonic(), self.n
        if self.total:
            self.last_step = int(self.n / self.total / LINE_STEP + 1e-9)
        self.terminal.line(self.text())


# ---- where the text goes -------------------------------------------------------------------------
class _FdLines:
    """Plain lines to a duplicate of this process's stderr, taken now (before any test capture)."""

    frames = False
    enabled = True

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        try:
            self.fd = os.dup(2)
        except OSError:
            self.fd = None

    def width(self) -> int | None:
        return None

    def frame(self, text: str) -> None:
        self.line(text)

    def clear_frame(self) -> None:
        pass

    def line(self, text: str) -> None:
        if self.fd is None:
            return
        data = f"{self.prefix}{text}\n".encode("utf-8", "replace")
        with _lock:
            try:
                os.write(self.fd, data)
            except OSError:
                pass

    def close(self) -> None:
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = None


class _PytestTerminal:
    """pytest's own terminal, written to with capture suspended (module docstring)."""

    enabled = True

    def __init__(self, capman, reporter, writer) -> None:
        self.capman, self.reporter, self.writer = capman, reporter, writer
        # At pytest_configure no capture is active: sys.stdout is the stream the reporter writes to.
        stream = sys.stdout
        self.frames = bool(getattr(stream, "isatty", lambda: False)()) and os.environ.get("TERM") != "dumb"
        self.frame_on = False   # a frame is drawn on the line below the cursor pytest knows of
        self.return_to = None   # column of pytest's line to go back to when the frame goes
        self._width = 79
        self._measure()

    def _measure(self) -> None:
        """The terminal's width, read while nothing is captured (a captured stdout has none)."""
        try:
            self._width = max(20, int(self.writer.fullwidth) - 1)
        except Exception:
            pass

    def width(self) -> int | None:
        return self._width

    def _uncaptured(self):
        import contextlib

        if self.capman is None:
            return contextlib.nullcontext()
        return self.capman.global_and_fixture_disabled()

    def frame(self, text: str) -> None:
        with _lock, self._uncaptured():
            out = sys.stdout
            if not self.frame_on:
                column = self.writer.width_of_current_line
                if column and column < self.writer.fullwidth:
                    out.write("\n")  # below pytest's line; the writer is not told (we come back)
                    self.return_to = column
                elif column:  # a full line: leave it for good
                    self._own_line()
                    self.return_to = None
                else:
                    self.return_to = None
                self.frame_on = True
            out.write("\r" + text + "\x1b[K")
            out.flush()
            self._measure()  # for the next frame (follows a resized window)

    def clear_frame(self) -> None:
        with _lock:
            if not self.frame_on:
                return
            with self._uncaptured():
                self._clear(sys.stdout)

    def _clear(self, out) -> None:
        out.write("\r\x1b[K")
        if self.return_to:
            out.write(f"\x1b[A\x1b[{self.return_to}C")  # up to pytest's line, after its last character
        out.flush()
        self.frame_on, self.return_to = False, None

    def line(self, text: str) -> None:
        """A line that stays, below pytest's current line. With -v pytest then writes the test's
        result on a fresh line with its id again; otherwise its dots go on below."""
        with _lock, self._uncaptured():
            if self.frame_on:
                self._clear(sys.stdout)
            self._own_line()
            self.writer.write(text, flush=True)
            # With -v inside a test pytest starts the result's line itself (it reprints the id):
            # leave the newline to it, so no empty line appears.
            if not (self._long_ids() and os.environ.get("PYTEST_CURRENT_TEST")):
                self.writer.line()

    def _long_ids(self) -> bool:
        return bool(getattr(self.reporter, "showlongtestinfo", False))

    def _own_line(self) -> None:
        if self.writer.width_of_current_line:
            self.writer.line()
        if self._long_ids():
            self.reporter.currentfspath = None  # pytest reprints the test id with its result

    def close(self) -> None:
        with _lock:
            if self.frame_on:
                try:
                    self._clear(sys.stdout)
                except Exception:
                    pass
