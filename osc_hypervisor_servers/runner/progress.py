#   Licensed under the Apache License, Version 2.0 (the "License"); you may
#   not use this file except in compliance with the License. You may obtain
#   a copy of the License at
#
#        http://www.apache.org/licenses/LICENSE-2.0
#
#   Unless required by applicable law or agreed to in writing, software
#   distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#   WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#   License for the specific language governing permissions and limitations
#   under the License.

"""A progress line on stderr, for terminals only."""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import typing

from osc_hypervisor_servers.runner import pool


def duration(seconds: float) -> str:
    """``40 s``, ``12 min``, ``2 h 05 min``."""
    if seconds < 60:
        return f'{seconds:.0f} s'
    minutes = round(seconds / 60)
    if minutes < 60:
        return f'{minutes} min'
    return f'{minutes // 60} h {minutes % 60:02d} min'


def changes_line(tally: pool.Tally) -> str:
    return f'{tally.done} of {tally.total} servers done, {tally.failed} failed'


def moves_line(tally: pool.Tally) -> str:
    """Moves take minutes each: how many are in flight, how long it has
    been, and how long it will be at the pace of the moves ended so far.
    """
    line = (
        f'{tally.stage}{": " if tally.stage else ""}'
        f'{tally.done - tally.failed} of {tally.total} moved, '
        f'{tally.in_flight} in flight, {tally.failed} failed, '
        f'{duration(tally.elapsed)} elapsed'
    )
    if tally.done:
        left = tally.elapsed / tally.done * (tally.total - tally.done)
        line += f', about {duration(left)} left'
    return line


class ProgressLine:
    """Rewrites one line with ``text`` of the tally."""

    def __init__(
        self,
        stream: typing.TextIO,
        text: typing.Callable[[pool.Tally], str] = changes_line,
    ) -> None:
        self.stream = stream
        self.text = text
        self.shown = False

    def __call__(self, tally: pool.Tally) -> None:
        self.stream.write(f'\r{self.text(tally)}\033[K')
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        """Clear the line, so that other lines can be written (it shows
        again at the next tally).
        """
        if self.shown:
            self.stream.write('\r\033[K')
            self.stream.flush()
            self.shown = False

    def close(self) -> None:
        self.clear()


def is_terminal(stream: typing.TextIO) -> bool:
    isatty = getattr(stream, 'isatty', None)
    return isatty is not None and bool(isatty())


@contextlib.contextmanager
def progress_line(
    stream: typing.TextIO,
    text: typing.Callable[[pool.Tally], str] = changes_line,
) -> Iterator[ProgressLine | None]:
    """A progress line on ``stream`` while the block runs, when it is a
    terminal (clear it before writing other lines); else None. It shows
    once the tasks run (a dry run runs none), and is cleared at the end.
    """
    if not is_terminal(stream):
        yield None
        return
    line = ProgressLine(stream, text)
    try:
        yield line
    finally:
        line.close()
