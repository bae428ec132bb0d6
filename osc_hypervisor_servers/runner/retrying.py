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

"""Retries of transient faults: a lost connection, 429, 502, 503, 504;
and the patience of a run with a cloud that answers nothing at all.

What a retry means for a call that may have landed is not decided here:
callers see every retry through ``on_retry``, and
:mod:`osc_hypervisor_servers.runner.landing` judges by the server's state.

A call spends its attempts and fails; but when nothing answers at all
(connections refused or cut, a proxy's 502, 503 or 504), no other call
of the run got an answer since this one's first fault, and the API does
not answer a harmless read either, the API is down, not this call: it
goes on trying, with backoff, until the cloud has not answered for
``Reachability.patience`` seconds. Then the run
gives up (:class:`NovaUnreachable`), every call at once. One line tells
the operator when the cloud stops answering, one when it answers again.
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
import datetime
import email.utils
import threading
import time
import typing

from keystoneauth1 import exceptions as ksa_exceptions
from keystoneauth1.exceptions import connection as ksa_connection
from openstack import exceptions as sdk_exceptions
import tenacity

TRANSIENT_STATUS_CODES = frozenset({429, 502, 503, 504})
#: Answers that come from something in front of the API, not from it.
NO_ANSWER_STATUS_CODES = frozenset({502, 503, 504})

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


def is_unanswered(error: BaseException | None) -> bool:
    """Whether ``error`` means that the API itself did not answer."""
    if isinstance(error, ksa_connection.SSLError):
        return False
    if isinstance(error, ksa_connection.ConnectionError):
        return True
    return (
        isinstance(error, sdk_exceptions.HttpException)
        and error.status_code in NO_ANSWER_STATUS_CODES
    )


def _silence(error: BaseException) -> str:
    """What a fault without an answer was, in a few words."""
    if isinstance(error, sdk_exceptions.HttpException):
        return f'HTTP {error.status_code}'
    return 'connection refused or cut'


def _is_answer(error: BaseException) -> bool:
    return isinstance(error, sdk_exceptions.HttpException) and not (
        is_unanswered(error)
    )


class NovaUnreachable(Exception):
    """The cloud answered nothing for the run's patience: the run stops.

    ``unsent``: raised before the call was sent at all (the run had
    given up already), so it cannot have landed.
    """

    def __init__(self, message: str, unsent: bool = False) -> None:
        super().__init__(message)
        self.unsent = unsent


class Reachability:
    """Whether the cloud answers at all, across every call of one run.

    ``probe`` makes a harmless read (the API's version document) and
    returns its HTTP status: before a call waits for the cloud, it tells
    an API that answers other requests (the call fails on its own, as
    after its attempts) from one that answers none.
    """

    def __init__(
        self,
        patience: float,
        notify: Callable[[str], None],
        probe: Callable[[], int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.patience = patience
        self._notify = notify
        self._probe = probe
        self._clock = clock
        self._lock = threading.Lock()
        self._last_answer = clock()
        self._silent_since: datetime.datetime | None = None
        self._given_up: str | None = None

    @property
    def given_up(self) -> str | None:
        """Why the run gave up, once it did."""
        return self._given_up

    def answered(self) -> None:
        with self._lock:
            self._last_answer = self._clock()
            if self._silent_since is not None and self._given_up is None:
                self._notify('Nova answers again')
            self._silent_since = None

    def now(self) -> float:
        return self._clock()

    def answered_since(self, moment: float) -> bool:
        with self._lock:
            return self._last_answer > moment

    def probe_answers(self) -> bool:
        """Whether the API answers its probe now (False without one)."""
        if self._probe is None:
            return False
        try:
            status = self._probe()
        except (sdk_exceptions.SDKException, ksa_exceptions.ClientException):
            return False
        if status in NO_ANSWER_STATUS_CODES:
            return False
        self.answered()
        return True

    def patience_left(self) -> float:
        with self._lock:
            return self._last_answer + self.patience - self._clock()

    def silent(self, error: BaseException) -> None:
        """A call spent its attempts, and nothing answered meanwhile."""
        with self._lock:
            if self._silent_since is not None or self._given_up is not None:
                return
            self._silent_since = datetime.datetime.now()
            self._notify(
                f'Nova does not answer ({_silence(error)}): trying again for '
                f'up to {self.patience:g} s from its last answer'
            )

    def give_up(self, error: BaseException) -> NovaUnreachable:
        with self._lock:
            if self._given_up is None:
                self._given_up = (
                    f'Nova did not answer for {self.patience:g} s '
                    f'({_silence(error)})'
                )
            return NovaUnreachable(self._given_up)


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
    #: The run's patience with a cloud that answers nothing; None: a
    #: call gives up after its attempts, whatever the others meet.
    reachability: Reachability | None = None

    def given_up(self) -> str | None:
        """Why the run gave up on the cloud, if it did."""
        return (
            None if self.reachability is None else (self.reachability.given_up)
        )

    def _wait(self, retry_state: tenacity.RetryCallState) -> float:
        backoff = tenacity.wait_random_exponential(
            multiplier=self.initial_delay, max=self.max_delay
        )(retry_state)
        retry_after = retry_after_seconds(_error_of(retry_state))
        if retry_after is not None:
            backoff = min(max(backoff, retry_after), self.max_delay)
        if self.reachability is not None:
            # Not past the patience: the last try comes as it ends.
            backoff = min(backoff, max(self.reachability.patience_left(), 0))
        return backoff

    def call(
        self,
        function: Callable[[], T],
        on_retry: Callable[[BaseException], None] | None = None,
    ) -> T:
        """Call ``function()``, retrying transient faults.

        ``on_retry(error)`` is told of each fault that is retried; the
        last fault, or any other error, is raised; NovaUnreachable once
        the run ran out of patience.
        """
        reach = self.reachability
        if reach is not None and reach.given_up is not None:
            raise NovaUnreachable(reach.given_up, unsent=True)
        attempt = _Attempt(function, reach)

        def before_sleep(retry_state: tenacity.RetryCallState) -> None:
            error = _error_of(retry_state)
            if on_retry is not None and error is not None:
                on_retry(error)

        retrying = tenacity.Retrying(
            stop=attempt.stop_after(self.attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception(is_transient),
            before_sleep=before_sleep,
            sleep=self.sleep,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except BaseException as error:
            if attempt.out_of_patience(error):
                assert reach is not None
                raise reach.give_up(error) from error
            raise


class _Attempt(typing.Generic[T]):
    """One call's tries, telling the run's reachability what they met."""

    def __init__(
        self, function: Callable[[], T], reach: Reachability | None
    ) -> None:
        self.function = function
        self.reach = reach
        #: When this call first met no answer (the reachability's clock).
        self.first_silence: float | None = None

    def __call__(self) -> T:
        try:
            result = self.function()
        except BaseException as error:
            if self.reach is not None:
                if is_unanswered(error):
                    if self.first_silence is None:
                        self.first_silence = self.reach.now()
                elif _is_answer(error):
                    self.reach.answered()
            raise
        if self.reach is not None:
            self.reach.answered()
        return result

    def _cloud_is_silent(self, error: BaseException | None) -> bool:
        """Whether nothing answered any call since this one's first
        fault without an answer.
        """
        return (
            self.reach is not None
            and is_unanswered(error)
            and self.first_silence is not None
            and not self.reach.answered_since(self.first_silence)
        )

    def stop_after(
        self, attempts: int
    ) -> Callable[[tenacity.RetryCallState], bool]:
        def stop(retry_state: tenacity.RetryCallState) -> bool:
            if retry_state.attempt_number < attempts:
                return False
            error = _error_of(retry_state)
            if not self._cloud_is_silent(error):
                return True
            assert self.reach is not None and error is not None
            if self.reach.probe_answers():
                return True
            self.reach.silent(error)
            return self.reach.patience_left() <= 0

        return stop

    def out_of_patience(self, error: BaseException) -> bool:
        return (
            self._cloud_is_silent(error)
            and self.reach is not None
            and self.reach.patience_left() <= 0
        )


def _error_of(retry_state: tenacity.RetryCallState) -> BaseException | None:
    outcome = retry_state.outcome
    return None if outcome is None else outcome.exception()
