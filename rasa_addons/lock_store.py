"""Rasa's Redis ticket lock, with every change to a conversation's lock made atomically in Redis.

Why: Rasa 3.6's `RedisLockStore` keeps a conversation's `TicketLock` as one JSON string and
changes it by read-modify-write from Python (`get_lock`, change, `save_lock`) with no Redis
transaction (RasaHQ/rasa#9213). With several Sanic workers (`SANIC_WORKERS`), two messages of one
chat arriving at two workers in the same instant both read the same lock, both append "ticket 0"
(or one's ticket is overwritten by the other's save), both are then "now serving", and the events
of one of the two turns are lost when the trackers are saved. Finishing and cleaning up race the
same way (a cleanup can delete the lock a newcomer has just taken a ticket on).

How: each conversation's tickets are a Redis list in issue order, `<prefix>lock:tickets:<id>`,
whose items are `"<number>:<expires, ms of Redis' clock>"`; every operation on it is one Lua
script, which Redis runs with nothing else in between:
- issue: drop expired tickets, take the next number from one counter for the whole store
  (`<prefix>lock:ticket_counter`, INCR), append the ticket, set the list's expiry to its last
  ticket's;
- serve (polled every `wait_time_in_seconds`, as Rasa polls): drop expired tickets; the ticket at
  the head is being served; a ticket no longer in the list has expired, which ends the wait with
  `LockError` (Rasa raises it when the lock has disappeared) instead of waiting behind newer ones;
- finish (Rasa's `cleanup`): drop the ticket and expired ones; an empty list is deleted by Redis
  itself, so "delete the lock when no one waits" cannot remove a ticket issued a moment before.
What stays Rasa's: tickets are served in the order they were issued, one at a time per
conversation; a ticket lives `lock_lifetime` seconds from issue (`TICKET_LOCK_LIFETIME`, default
60), after which the next one is served even if its holder never finished (a crashed worker); the
polling interval; the lock disappears when its last ticket is finished or expired. Different from
Rasa on purpose: numbers come from one counter that never restarts, so a holder whose ticket
expired cannot, on finishing, remove a newer holder's ticket of the same number (Rasa restarts at
0 on an empty lock); expiry is measured on Redis' clock, the same for every worker and machine;
the list carries a Redis expiry, so a lock left by a killed worker does not stay in Redis.

A list plus scripts rather than WATCH/MULTI retries: no retry loop to tune, and each step is one
round trip. Subclasses `RedisLockStore` for its connection settings (host/url, port, db, username,
password, use_ssl and certificates, socket_timeout) and `key_prefix` rule (alphanumeric, giving
`<prefix>:lock:`); one Redis server or a primary (the scripts touch two keys, so not Redis Cluster,
which Rasa's store does not support either). The keys differ from Rasa's `lock:<id>` strings, so a
lock left by Rasa's store is never read as a list.

Configured in an endpoints file (Rasa passes `url` as the host and the other keys as arguments):

    lock_store:
      type: rasa_addons.lock_store.AtomicRedisLockStore
      url: ${REDIS_HOST}
      port: ${REDIS_PORT}
      password: ${REDIS_PASSWORD}
      db: 1
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from rasa.core.lock import Ticket as LockTicket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

# Shared by the scripts: Redis' time in ms, and dropping the expired tickets of KEYS[1] (returns
# the tickets kept, in order, and the latest expiry among them). Items are unique (unique numbers),
# so LREM of an item removes exactly that ticket.
_PRELUDE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local function prune(key)
    local kept, latest = {}, 0
    for _, item in ipairs(redis.call('LRANGE', key, 0, -1)) do
        local expires = tonumber(string.match(item, ':(%d+)$')) or 0
        if expires > now then
            kept[#kept + 1] = item
            if expires > latest then latest = expires end
        else
            redis.call('LREM', key, 1, item)
        end
    end
    return kept, latest
end
local function number_of(item)
    return string.match(item, '^(%d+):')
end
"""

# KEYS: tickets, counter. ARGV: lifetime in ms. Returns the new ticket's number.
_ISSUE = _PRELUDE + """
local kept, latest = prune(KEYS[1])
local number = redis.call('INCR', KEYS[2])
local expires = now + tonumber(ARGV[1])
redis.call('RPUSH', KEYS[1], string.format('%d:%d', number, expires))
redis.call('PEXPIREAT', KEYS[1], math.max(latest, expires))
return number
"""

# KEYS: tickets. ARGV: ticket number. Returns {position, tickets}: 0 when the ticket is at the head
# (served now), n > 0 when n tickets are before it, -1 when it is not there (expired or finished).
_SERVE = _PRELUDE + """
local kept = prune(KEYS[1])
for index, item in ipairs(kept) do
    if number_of(item) == ARGV[1] then return {index - 1, kept} end
end
return {-1, kept}
"""

# KEYS: tickets. ARGV: ticket number. Removes it (and expired ones); returns how many remain. An
# empty list no longer exists in Redis: that is the deletion of the lock.
_FINISH = _PRELUDE + """
local kept = prune(KEYS[1])
local remaining, latest = 0, 0
for _, item in ipairs(kept) do
    if number_of(item) == ARGV[1] then
        redis.call('LREM', KEYS[1], 1, item)
    else
        remaining = remaining + 1
        latest = math.max(latest, tonumber(string.match(item, ':(%d+)$')))
    end
end
if remaining > 0 then redis.call('PEXPIREAT', KEYS[1], latest) end
return remaining
"""


def _tickets(conversation_id: str, items: list[Any]) -> TicketLock:
    """Rasa's `TicketLock` for list items `b"<number>:<expires ms>"` (the lock's state, to read)."""
    tickets: deque[LockTicket] = deque()
    for item in items:
        number, _, expires = (item.decode() if isinstance(item, bytes) else str(item)).partition(":")
        tickets.append(LockTicket(int(number), int(expires) / 1000))
    return TicketLock(conversation_id, tickets)


class AtomicRedisLockStore(RedisLockStore):
    """`RedisLockStore` whose tickets are issued, served and finished by Lua scripts (module docstring)."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        """Built by Rasa from the endpoints file (`endpoint_config`: `url` is the host, the other
        keys are `RedisLockStore`'s arguments), or directly with those arguments."""
        if endpoint_config is not None:
            if endpoint_config.url:
                kwargs.setdefault("host", endpoint_config.url)
            kwargs = {**endpoint_config.kwargs, **kwargs}
        for name, convert in (("port", int), ("db", int), ("socket_timeout", float)):
            if kwargs.get(name) not in (None, ""):  # ${VAR} in an endpoints file is a string
                kwargs[name] = convert(kwargs[name])
        if isinstance(kwargs.get("use_ssl"), str):
            kwargs["use_ssl"] = kwargs["use_ssl"].strip().lower() in {"1", "true", "yes", "on"}
        if not kwargs.get("password"):
            kwargs["password"] = None  # an empty ${REDIS_PASSWORD}: no AUTH
        super().__init__(**kwargs)
        self.counter_key = self.key_prefix + "ticket_counter"
        self._issue = self.red.register_script(_ISSUE)
        self._serve = self.red.register_script(_SERVE)
        self._finish = self.red.register_script(_FINISH)

    def tickets_key(self, conversation_id: str) -> str:
        return f"{self.key_prefix}tickets:{conversation_id}"

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        """Append a ticket living `lock_lifetime` seconds to the conversation's queue; its number."""
        logger.debug(f"Issuing ticket for conversation '{conversation_id}'.")
        try:
            lifetime_ms = max(1, round(lock_lifetime * 1000))
            return int(self._issue(keys=[self.tickets_key(conversation_id), self.counter_key], args=[lifetime_ms]))
        except Exception as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    async def _acquire_lock(self, conversation_id: str, ticket: int, wait_time_in_seconds: float) -> TicketLock:
        """Wait, polling every `wait_time_in_seconds`, until `ticket` heads the queue; `LockError`
        once it is no longer there (expired)."""
        logger.debug(f"Acquiring lock for conversation '{conversation_id}'.")
        while True:
            position, items = self._serve(keys=[self.tickets_key(conversation_id)], args=[ticket])
            position = int(position)
            if position == 0:
                logger.debug(f"Acquired lock for conversation '{conversation_id}'.")
                return _tickets(conversation_id, items)
            if position < 0:
                raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
            logger.debug(
                f"Failed to acquire lock for conversation ID '{conversation_id}' because {position} other "
                f"item(s) for this conversation ID have to be finished processing first. "
                f"Retrying in {wait_time_in_seconds} seconds ..."
            )
            await asyncio.sleep(wait_time_in_seconds)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        """Remove `ticket_number` (and expired tickets); the lock goes with its last ticket."""
        self._finish(keys=[self.tickets_key(conversation_id)], args=[ticket_number])

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Rasa's cleanup (finish, then delete the lock if no one waits) in one step."""
        remaining = int(self._finish(keys=[self.tickets_key(conversation_id)], args=[ticket_number]))
        if remaining == 0:
            self._log_deletion(conversation_id, deletion_successful=True)

    def update_lock(self, conversation_id: str) -> None:
        """Drop expired tickets (the serve script does it on every poll)."""
        self._serve(keys=[self.tickets_key(conversation_id)], args=[-1])

    def is_someone_waiting(self, conversation_id: str) -> bool:
        lock = self.get_lock(conversation_id)
        return lock is not None and lock.is_someone_waiting()

    def get_lock(self, conversation_id: str) -> TicketLock | None:
        """The conversation's tickets, unexpired, as Rasa's `TicketLock` (a snapshot to read)."""
        items = self.red.lrange(self.tickets_key(conversation_id), 0, -1)
        if not items:
            return None
        lock = _tickets(conversation_id, items)
        lock.remove_expired_tickets()
        return lock if lock.tickets else None

    def delete_lock(self, conversation_id: str) -> None:
        self._log_deletion(conversation_id, bool(self.red.delete(self.tickets_key(conversation_id))))

    def save_lock(self, lock: TicketLock) -> None:
        """Replace a conversation's tickets in one transaction (not used by the locking itself)."""
        key = self.tickets_key(lock.conversation_id)
        pipe = self.red.pipeline(transaction=True)
        pipe.delete(key)
        live = [ticket for ticket in lock.tickets if not ticket.has_expired()]
        if live:
            pipe.rpush(key, *(f"{ticket.number}:{round(ticket.expires * 1000)}" for ticket in live))
            pipe.pexpireat(key, max(round(ticket.expires * 1000) for ticket in live))
        pipe.execute()
