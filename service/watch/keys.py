"""Single key presses from the terminal, without Enter, for the live view's filters.

While the view runs, a terminal on stdin is put in cbreak mode (keys arrive one by one,
are not echoed; Ctrl-C still interrupts) and read by the event loop (``add_reader``); its
settings are restored on exit. Without a terminal (a pipe, CI, tests) nothing is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import TextIO


@contextlib.contextmanager
def keys(on_key: Callable[[str], None], stream: TextIO | None = None) -> Iterator[bool]:
    """Call ``on_key`` with each key pressed while inside; yields whether keys are read."""
    stream = stream if stream is not None else sys.stdin
    try:
        import termios
        import tty
    except ImportError:  # not a POSIX terminal
        yield False
        return
    try:
        fd = stream.fileno()
        tty_in = stream.isatty()
    except (AttributeError, OSError, ValueError):  # a replaced or closed stdin
        tty_in = False
    if not tty_in:
        yield False
        return
    saved = termios.tcgetattr(fd)
    loop = asyncio.get_running_loop()

    def read() -> None:
        try:
            data = os.read(fd, 64)
        except OSError:
            return
        for ch in data.decode(errors="ignore"):
            on_key(ch)

    tty.setcbreak(fd)
    loop.add_reader(fd, read)
    try:
        yield True
    finally:
        loop.remove_reader(fd)
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
