"""The forwarding worker: claim due deliveries, send them, schedule what failed.

    forwarder = Forwarder(storage, config, sealer, metrics)
    forwarder.start()        # a dispatcher thread + `config.workers` sending threads
    forwarder.wake()         # a new delivery is due now (in-process inbound calls this)
    forwarder.stop()         # finish attempts in flight, then return

Schedule: `config.retry_schedule` gives the delay before each attempt (the first is
normally 0), times `retry_scale`, each with ±`retry_jitter`. A `Retry-After` answer moves
the next attempt within [delay, 2 x delay]. After the last attempt the delivery is dead:
visible in the log and replayable. Claims are leases: a worker that dies mid-attempt
gives its deliveries back when the lease runs out, so another worker sends them.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from connector.relay import ingest
from connector.relay.config import RelayConfig
from connector.relay.logs import fields, get_logger, target_host
from connector.relay.metrics import Metrics
from connector.relay.outbound import Outcome, Sender, Sent, request_headers
from connector.relay.ssrf import TargetPolicy
from connector.relay.storage import (
    Attempt,
    AttemptResult,
    Claim,
    DeliveryStatus,
    Storage,
)
from connector.relay.tokens import TokenError, TokenSealer

log = get_logger("worker")


@dataclass(frozen=True)
class Schedule:
    """Delays before attempt 1, 2, …; jitter is a fraction (0.2 = ±20 %)."""

    delays: tuple[float, ...]
    jitter: float = 0.0

    @classmethod
    def from_config(cls, config: RelayConfig) -> Schedule:
        return cls(config.scaled_schedule(), config.retry_jitter)

    @property
    def attempts(self) -> int:
        return len(self.delays)

    def delay_before(self, attempt: int, rng: random.Random) -> float | None:
        """Seconds to wait before attempt number `attempt` (1-based); None past the last."""
        if attempt > len(self.delays):
            return None
        base = self.delays[attempt - 1]
        return base * (1 + rng.uniform(-self.jitter, self.jitter)) if base else 0.0


def honour_retry_after(delay: float, asked: float | None) -> float:
    """A target's Retry-After, kept within [delay, 2 x delay]."""
    if asked is None:
        return delay
    return min(max(asked, delay), 2 * delay)


def decide(
    claim: Claim, sent: Sent, schedule: Schedule, rng: random.Random, started_at: float, now: float
) -> AttemptResult:
    """The attempt to record and what happens to the delivery next."""
    d = claim.delivery
    attempt = Attempt(
        delivery_id=d.id,
        number=d.attempts + 1,
        started_at=started_at,
        duration_ms=sent.duration * 1000,
        outcome=sent.outcome.value,
        status_code=sent.status_code,
        error=sent.error,
        response_excerpt=sent.excerpt,
    )
    if sent.outcome.done:
        return AttemptResult(attempt, DeliveryStatus.SUCCEEDED, None)
    if sent.outcome is Outcome.GONE:
        return AttemptResult(
            attempt,
            DeliveryStatus.CANCELED,
            None,
            end_route=d.route_id,
            end_subscription=d.subscription_id,
            reason="target answered 410 Gone",
        )
    if sent.outcome is Outcome.REFUSED:
        return AttemptResult(attempt, DeliveryStatus.DEAD, None)
    delay = schedule.delay_before(d.run_attempts + 2, rng)
    if delay is None:
        return AttemptResult(attempt, DeliveryStatus.DEAD, None)
    delay = honour_retry_after(delay, sent.retry_after)
    return AttemptResult(attempt, DeliveryStatus.PENDING, now + delay)


class LeaseLapsed(RuntimeError):
    """A claim whose lease ran out before its attempt could start."""


def lease_margin(lease: float) -> float:
    """The part of a lease kept free after the attempt, to record its result."""
    return min(5.0, lease / 4)


class Forwarder:
    """Claims and sends deliveries on threads of its own until stopped."""

    def __init__(
        self,
        storage: Storage,
        config: RelayConfig,
        sealer: TokenSealer,
        metrics: Metrics,
        policy: TargetPolicy | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.storage = storage
        self.config = config
        self.sealer = sealer
        self.metrics = metrics
        self.policy = policy or target_policy(config)
        self.schedule = Schedule.from_config(config)
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self._clock = clock
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._slots = threading.Semaphore(config.workers)
        self._per_host = config.host_share
        self._busy: Counter[str] = Counter()  # attempts in flight per target host
        self._busy_lock = threading.Lock()
        self._capped = False  # all due work waits for hosts at their share
        self._local = threading.local()
        self._senders: list[Sender] = []
        self._senders_lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        self._next_join_check = 0.0

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._executor = ThreadPoolExecutor(self.config.workers, thread_name_prefix="relay-send")
        self._thread = threading.Thread(target=self._run, name="relay-dispatch", daemon=True)
        self._thread.start()
        log.info("forwarder started", extra=fields(workers=self.config.workers))

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        """Stop claiming; wait for attempts in flight (they are bounded by the attempt timeout)."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        with self._senders_lock:
            for sender in self._senders:
                sender.close()
            self._senders.clear()
        log.info("forwarder stopped")

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- the loop ---------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._wake.clear()
                self._sweep_joins()
                claimed = self._dispatch()
                if claimed:
                    continue
                self._wake.wait(self._idle_wait())
            except Exception:
                log.exception("forwarder loop failed; retrying")
                self._stopping.wait(self.config.poll_interval)

    def _dispatch(self) -> int:
        """Claim as many due deliveries as there are free slots and send them. A target
        host holds at most `host_share` slots: a claim beyond its share is given back at
        once (due now, so behind what was due before), and the next claim looks further."""
        if not self._slots.acquire(timeout=0.5):
            return 0
        free = 1
        while free < self.config.workers and self._slots.acquire(blocking=False):
            free += 1
        sent = 0
        returned = 0
        try:
            for _ in range(3):  # each round gives back what exceeds a host's share
                now = self._clock()
                claims = self.storage.claim_due(now, free - sent, self.config.lease)
                kept, over = self._share(claims)
                assert self._executor is not None
                for claim, host in kept:
                    self._executor.submit(self._deliver_in_slot, claim, host)
                sent += len(kept)
                returned += len(over)
                self._give_back(over, now)
                if not over or sent == free:
                    break
        finally:
            for _ in range(free - sent):
                self._slots.release()
        self._capped = sent == 0 and returned > 0
        return sent

    def _give_back(self, claims: list[Claim], now: float) -> None:
        """Release claims beyond their host's share; one that fails just lapses."""
        for claim in claims:
            try:
                self.storage.release(claim, now)
            except Exception as exc:
                log.warning(
                    "could not give a claim back: it lapses with its lease",
                    extra=fields(delivery=claim.delivery.id, error=type(exc).__name__),
                )

    def _share(self, claims: list[Claim]) -> tuple[list[tuple[Claim, str]], list[Claim]]:
        """The claims whose target host is within its share (counted in), and the rest."""
        kept: list[tuple[Claim, str]] = []
        over: list[Claim] = []
        with self._busy_lock:
            for claim in claims:
                host = target_host(claim.delivery.target_url)
                if self._busy[host] < self._per_host:
                    self._busy[host] += 1
                    kept.append((claim, host))
                else:
                    over.append(claim)
        return kept, over

    def _idle_wait(self) -> float:
        wait = self.config.poll_interval
        if self._capped:  # what is due waits for a slot of its host: a finished attempt wakes
            return wait
        due = self.storage.next_due_at()
        if due is not None:
            wait = min(wait, max(0.0, due - self._clock()))
        joins = self.storage.next_join_deadline()
        if joins is not None:
            wait = min(wait, max(0.0, joins - self._clock()))
        return max(wait, 0.001)

    def _sweep_joins(self) -> None:
        now = self._clock()
        if now < self._next_join_check:
            return
        self._next_join_check = now + min(self.config.poll_interval, 1.0)
        for route_id in self.storage.due_joins(now):
            delivery = ingest.close_join(self.storage, route_id, now)
            if delivery is not None:
                self.metrics.joins.labels(complete="false").inc()
                log.info(
                    "join deadline reached: forwarding what arrived",
                    extra=fields(route_id=route_id, delivery=delivery.id),
                )

    # -- one delivery -------------------------------------------------------------------------

    def _deliver_in_slot(self, claim: Claim, host: str) -> None:
        try:
            self.deliver(claim)
        except LeaseLapsed:
            log.warning(
                "claim lapsed before its attempt: left to the next claim",
                extra=fields(delivery=claim.delivery.id),
            )
        except Exception:
            log.exception("delivery failed unexpectedly", extra=fields(delivery=claim.delivery.id))
        finally:
            with self._busy_lock:
                self._busy[host] -= 1
                if self._busy[host] <= 0:
                    del self._busy[host]
            self._slots.release()
            self._wake.set()

    def _sender(self) -> Sender:
        sender: Sender | None = getattr(self._local, "sender", None)
        if sender is None:
            sender = Sender(self.policy, self.config.attempt_timeout, self.config.connect_timeout)
            self._local.sender = sender
            with self._senders_lock:
                self._senders.append(sender)
        return sender

    def deliver(self, claim: Claim) -> AttemptResult:
        """Send one claimed delivery and record the attempt (usable without `start`).

        The attempt ends by the attempt timeout, and in any case `LEASE_MARGIN` of the
        lease before the claim lapses, so no other worker takes the delivery while it is
        being sent; LeaseLapsed when too little of the lease is left to send at all."""
        d = claim.delivery
        started_at = self._clock()
        lease_ends = d.next_attempt_at if d.next_attempt_at is not None else started_at
        within = lease_ends - started_at - lease_margin(self.config.lease)
        if within <= 0:
            raise LeaseLapsed(d.id)
        try:
            secret = self.sealer.open(claim.secret_sealed).secret
        except TokenError:
            sent = Sent(Outcome.ERROR, 0.0, error="signing secret unreadable (token key removed?)")
        else:
            headers = request_headers(
                claim.headers, d.event_name, d.api_delivery_id, d.message_id, claim.body, secret
            )
            try:
                sent = self._sender().send(
                    d.target_url, claim.body, headers, claim.accept_409, within=within
                )
            except Exception as exc:
                sent = Sent(Outcome.ERROR, self._clock() - started_at, error=type(exc).__name__)
        now = self._clock()
        with self._rng_lock:
            result = decide(claim, sent, self.schedule, self._rng, started_at, now)
        with self.metrics.recording():  # a scrape after the commit sees it counted
            self.storage.finish_attempt(claim, result, now)
            self._observe(claim, sent, result, now)
        return result

    def _observe(self, claim: Claim, sent: Sent, result: AttemptResult, now: float) -> None:
        d = claim.delivery
        m = self.metrics
        m.attempts.labels(outcome=sent.outcome.value).inc()
        m.attempt_seconds.observe(sent.duration)
        info = fields(
            delivery=d.id,
            event=d.event_name,
            target=target_host(d.target_url),
            attempt=result.attempt.number,
            outcome=sent.outcome.value,
            status_code=sent.status_code,
            next=result.status.value,
        )
        if result.status is DeliveryStatus.SUCCEEDED:
            m.forwarded.inc()
            m.forward_lag_seconds.observe(max(0.0, now - d.received_at))
            log.info("delivered", extra=info)
        elif result.status is DeliveryStatus.DEAD:
            m.dead_letters.inc()
            log.warning("dead-lettered", extra=info)
        elif result.status is DeliveryStatus.CANCELED:
            m.canceled.inc()
            log.info("target gone: delivery canceled", extra=info)
        else:
            log.info("attempt failed; will retry", extra=info)


def target_policy(config: RelayConfig) -> TargetPolicy:
    return TargetPolicy(
        allow_http=config.allow_http,
        allow_networks=config.allow_networks,
        allowed_ports=frozenset(config.allowed_ports) if config.allowed_ports else None,
    )
