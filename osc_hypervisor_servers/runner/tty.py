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


class ProgressLine:
    """Rewrites one line: servers done of total, failures so far."""

    def __init__(self, stream: typing.TextIO) -> None:
        self.stream = stream
        self.shown = False

    def __call__(self, tally: pool.Tally) -> None:
        self.stream.write(
            f'\r{tally.done} of {tally.total} servers done, '
            f'{tally.failed} failed\033[K'
        )
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write('\r\033[K')
            self.stream.flush()


def is_terminal(stream: typing.TextIO) -> bool:
    isatty = getattr(stream, 'isatty', None)
    return isatty is not None and bool(isatty())


@contextlib.contextmanager
def progress_line(
    stream: typing.TextIO, shown: bool = True
) -> Iterator[pool.Progress | None]:
    """A progress line on ``stream`` while the block runs, when it is a
    terminal and ``shown``; else None. The line is cleared at the end.
    """
    if not (shown and is_terminal(stream)):
        yield None
        return
    line = ProgressLine(stream)
    try:
        yield line
    finally:
        line.close()
