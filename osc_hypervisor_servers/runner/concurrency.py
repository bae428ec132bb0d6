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

"""Read-only calls side by side, results in the order asked."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
import concurrent.futures
import typing

T = typing.TypeVar('T')
R = typing.TypeVar('R')


def bounded_map(
    function: Callable[[T], R], items: Sequence[T], workers: int
) -> list[R]:
    """``[function(item) for item in items]``, ``workers`` at a time.

    The first error in the order of ``items`` is raised; calls not yet
    started are then cancelled.
    """
    if len(items) <= 1 or workers <= 1:
        return [function(item) for item in items]
    executor = concurrent.futures.ThreadPoolExecutor(min(workers, len(items)))
    try:
        futures = [executor.submit(function, item) for item in items]
        return [future.result() for future in futures]
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
