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

import typing


class ProgressLine:
    """Rewrites one line: servers done of total, failures so far."""

    def __init__(self, stream: typing.TextIO) -> None:
        self.stream = stream
        self.shown = False

    def __call__(self, done: int, total: int, failed: int) -> None:
        self.stream.write(
            f'\r{done} of {total} servers done, {failed} failed\033[K'
        )
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write('\r\033[K')
            self.stream.flush()


def for_stream(stream: typing.TextIO) -> ProgressLine | None:
    """A ProgressLine when ``stream`` is a terminal, else None."""
    isatty = getattr(stream, 'isatty', None)
    if isatty is not None and isatty():
        return ProgressLine(stream)
    return None
