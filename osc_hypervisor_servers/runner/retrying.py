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

"""Retries of transient faults: a lost connection, 429, 502, 503, 504.

What a retry means for a call that may have landed is not decided here:
callers see every retry through ``on_retry``, and
:mod:`osc_hypervisor_servers.runner.judged` judges by the server's state.
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
import email.utils
import time
import typing

from keystoneauth1.exceptions import connection as ksa_connection
from openstack import exceptions as sdk_exceptions
import tenacity

TRANSIENT_STATUS_CODES = frozenset({429, 502, 503, 504})

T = typing.TypeVar('T')


def is_transient(error: BaseException | None) -> bool:
    if isinstance(error, ksa_connection.SSLError):
        return False
    if isinstance(error, ksa_connection.ConnectionError):
        return True
    return (
        isinstance(error, sdk_exceptions.HttpException)
        and error.status_code in TRANSIENT_STATUS_CODES
    )


def retry_after_seconds(error: BaseException | None) -> float | None:
    """The server's Retry-After, in seconds, or None when it gave none."""
    response = getattr(error, 'response', None)
    # A requests.Response is falsy for every error status.
    if response is None:
        return None
    value = response.headers.get('Retry-After')
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter.

    ``attempts`` counts the first try. A Retry-After longer than the
    backoff is honoured, up to ``max_delay``.
    """

    attempts: int = 5
    initial_delay: float = 0.5
    max_delay: float = 30.0
    sleep: Callable[[float], None] = time.sleep

    def _wait(self, retry_state: tenacity.RetryCallState) -> float:
        backoff = tenacity.wait_random_exponential(
            multiplier=self.initial_delay, max=self.max_delay
        )(retry_state)
        retry_after = retry_after_seconds(_error_of(retry_state))
        if retry_after is None:
            return backoff
        return min(max(backoff, retry_after), self.max_delay)

    def call(
        self,
        function: Callable[[], T],
        on_retry: Callable[[BaseException], None] | None = None,
    ) -> T:
        """Call ``function()``, retrying transient faults.

        ``on_retry(error)`` is told of each fault that is retried; the
        last fault, or any other error, is raised.
        """

        def before_sleep(retry_state: tenacity.RetryCallState) -> None:
            error = _error_of(retry_state)
            if on_retry is not None and error is not None:
                on_retry(error)

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception(is_transient),
            before_sleep=before_sleep,
            sleep=self.sleep,
            reraise=True,
        )
        return retrying(function)


def _error_of(retry_state: tenacity.RetryCallState) -> BaseException | None:
    outcome = retry_state.outcome
    return None if outcome is None else outcome.exception()
