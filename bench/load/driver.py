"""The load driver: N concurrent simulated annotators over HTTP, in one asyncio process.

Each of the N slots is an annotator at work, as the annotator page works: it opens the study
(POST next?ahead=1: the unit it is given and the following one, leased in advance; timed as
"next-unit"), judges, shows the unit fetched in advance at once and submits (POST
submit?ahead=1: the judgment stored and a new unit leased in advance, in one round trip;
timed as "submit"; the wait for the next unit on screen is timed as "shown"), and
after a session of `session_units` judgments leaves, its last unit still leased (as a person
closing the tab does), and another annotator takes the slot. A slot's first annotator signs
in through the login page (CSRF token, password); the ones after it come back with the
session cookie of an earlier sign-in. No think time: the slots go as fast as the server lets
them (a closed loop), so judgments/s is the server's capacity at N concurrent annotators.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import secrets
import string
import time
import uuid
from dataclasses import dataclass, field

import aiohttp

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class Sample:
    kind: str  # "sign-in", "next", "submit", "shown" (the wait the annotator sees for the next unit)
    start: float
    seconds: float
    ok: bool


@dataclass
class Results:
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # (annotation id, unit id, username, idempotency key): acknowledged by the server
    acknowledged: list[tuple[int, int, str, str]] = field(default_factory=list)
    handed: dict[int, set[str]] = field(default_factory=dict)  # unit id -> usernames it was handed to
    handed_twice_to_one: int = 0  # a unit handed again to an annotator who already had it
    exhausted: int = 0  # sessions that found no unit left
    t_start: float = 0.0
    t_end: float = 0.0


def _cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


def _set_cookies(response: aiohttp.ClientResponse, cookies: dict[str, str]) -> None:
    for name, morsel in response.cookies.items():
        cookies[name] = morsel.value


def make_response(unit: dict, rng: random.Random) -> dict:
    """A valid judgment of the unit, as a careful annotator would send it."""
    task = unit["task"]
    if task["type"] == "pairwise":
        ids = [c["id"] for c in unit["candidates"]]
        choice = rng.choice(ids + (["tie"] if task["config"].get("allow_tie") else []))
        return {"choice": choice}
    if task["type"] == "mqm":
        text = unit["candidates"][0]["text"]
        config = task["config"]
        whole = set(config.get("whole_segment_categories") or [])
        categories = [c for c in config["categories"] if c not in whole]
        if rng.random() < 0.4 or len(text) < 2 or not categories:
            return {"errors": [], "no_error": True}
        start = rng.randrange(0, len(text) - 1)
        end = min(len(text), start + rng.randint(1, 12))
        return {"errors": [{"start": start, "end": end, "side": "target", "category": rng.choice(categories),
                            "severity": rng.choice(config["severities"])}], "no_error": False}
    raise SystemExit(f"the load driver does not know task type {task['type']!r}")


class Driver:
    def __init__(self, base_url: str, study: dict, *, slots: int, duration: float, warmup: float, session_units: int, seed: int = 7,
                 on_window=None):
        self.base = base_url.rstrip("/")
        self.study = study
        self.slots = slots
        self.duration = duration
        self.warmup = warmup
        self.session_units = session_units
        self.rng = random.Random(seed)
        self.results = Results()
        self.accounts = iter(study["accounts"])
        self.stop_at = float("inf")
        self.on_window = on_window  # called with "start" and "end" of the measured window

    async def _post(self, http, url: str, cookies: dict, kind: str, *, body=None, data=None) -> tuple[int, dict | str]:
        headers = {"Cookie": _cookie_header(cookies), "Referer": self.base + "/", "X-CSRFToken": cookies.get("csrftoken", "")}
        if body is not None:
            headers["Content-Type"] = "application/json"
        t0 = time.perf_counter()
        ok = False
        try:
            async with http.post(self.base + url, data=json.dumps(body) if body is not None else data, headers=headers,
                                 allow_redirects=False) as response:
                _set_cookies(response, cookies)
                text = await response.text()
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            self.results.samples.append(Sample(kind, t0, time.perf_counter() - t0, False))
            self.results.errors.append(f"{kind}: {type(exc).__name__}: {exc}")
            return 0, ""
        ok = status < 400
        self.results.samples.append(Sample(kind, t0, time.perf_counter() - t0, ok))
        if not ok:
            self.results.errors.append(f"{kind}: HTTP {status}: {text[:300]}")
        try:
            return status, json.loads(text) if text and response.content_type == "application/json" else text
        except ValueError:
            return status, text

    async def sign_in(self, http, username: str) -> dict[str, str]:
        # A sign-in costs a password hash (PBKDF2, ~0.3 s of a core): a few at a time, as
        # annotators trickle in, and a generous timeout, so that 32 at once measure the
        # hashing rather than time out.
        async with self.signing_in:
            return await self._sign_in(http, username)

    async def _sign_in(self, http, username: str) -> dict[str, str]:
        cookies: dict[str, str] = {}
        t0 = time.perf_counter()
        async with http.get(self.base + "/login/", timeout=aiohttp.ClientTimeout(total=300)) as response:
            _set_cookies(response, cookies)
            page = await response.text()
        match = CSRF_INPUT.search(page)
        if not match:
            raise SystemExit("the login page carries no CSRF token")
        form = {"csrfmiddlewaretoken": match.group(1), "username": username, "password": self.study["password"], "next": "/"}
        headers = {"Cookie": _cookie_header(cookies), "Referer": self.base + "/login/"}
        async with http.post(self.base + "/login/", data=form, headers=headers, allow_redirects=False,
                             timeout=aiohttp.ClientTimeout(total=300)) as response:
            _set_cookies(response, cookies)
            ok = response.status == 302 and "sessionid" in cookies
            if not ok:
                self.results.errors.append(f"sign-in: HTTP {response.status} for {username}")
        self.results.samples.append(Sample("sign-in", t0, time.perf_counter() - t0, ok))
        return cookies

    def _handed(self, unit: dict | None, username: str) -> None:
        if unit is None:
            return
        holders = self.results.handed.setdefault(unit["unit_id"], set())
        if username in holders:
            self.results.handed_twice_to_one += 1
        holders.add(username)

    async def session(self, http, account: dict, cookies: dict[str, str]) -> None:
        """One annotator's visit, as the annotator page works: open the study with ?ahead=1
        (the unit to judge and the one after it, leased in advance), then per judgment: show
        the unit fetched in advance at once and submit the judgment (?ahead=1: the answer
        brings a new unit in advance). "shown" times the wait the annotator sees between
        answering and the next unit on screen: zero when the unit in advance was there."""
        username, slug = account["username"], self.study["slug"]
        status, body = await self._post(http, f"/api/v1/studies/{slug}/next/?ahead=1", cookies, "next")
        if status != 200:
            await asyncio.sleep(0.2)  # do not burn through the accounts while the server refuses
            return
        seen: set[int] = set()
        unit, ahead = body["unit"], body.get("ahead")
        self._seen(seen, username, unit, ahead)
        for _ in range(self.session_units):
            if unit is None:
                self.results.exhausted += 1
                return
            if time.perf_counter() >= self.stop_at:
                return
            key = uuid.uuid4().hex
            payload = {"response": make_response(unit, self.rng), "idempotency_key": key, "duration_ms": self.rng.randint(2000, 60000)}
            t0 = time.perf_counter()
            on_screen, ahead = ahead, None
            if on_screen is not None:
                self.results.samples.append(Sample("shown", t0, 0.0, True))
            status, body = await self._post(http, f"/api/v1/assignments/{unit['assignment_id']}/submit/?ahead=1", cookies, "submit",
                                            body=payload)
            if status not in (200, 201):
                return
            annotation = body["annotation"]
            self.results.acknowledged.append((annotation["id"], annotation["unit_id"], username, key))
            following = body["next"]
            self._seen(seen, username, following.get("unit"), following.get("ahead"))
            done = {unit["assignment_id"]} | ({on_screen["assignment_id"]} if on_screen else set())
            offered = [u for u in (following.get("unit"), following.get("ahead")) if u and u["assignment_id"] not in done]
            if on_screen is None:
                on_screen = offered.pop(0) if offered else None
                if on_screen is not None:
                    self.results.samples.append(Sample("shown", t0, time.perf_counter() - t0, True))
            ahead = offered[0] if offered else None
            unit = on_screen

    def _seen(self, seen: set[int], username: str, *units) -> None:
        for unit in units:
            if unit is not None and unit["assignment_id"] not in seen:
                seen.add(unit["assignment_id"])
                self._handed(unit, username)

    async def slot(self, http, index: int, signed_in: asyncio.Barrier) -> None:
        first = next(self.accounts)
        try:
            cookies = await self.sign_in(http, first["username"])
        except (TimeoutError, aiohttp.ClientError) as exc:
            self.results.errors.append(f"sign-in: {type(exc).__name__}: {exc}")
            cookies = None
        await signed_in.wait()
        if cookies is None:
            return
        account = first
        while time.perf_counter() < self.stop_at:
            await self.session(http, account, cookies)
            try:
                account = next(self.accounts)
            except StopIteration:
                self.results.errors.append("the driver ran out of annotator accounts (build more with --accounts)")
                return
            token = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
            cookies = {"sessionid": account["session"], "csrftoken": token}

    async def run(self) -> Results:
        connector = aiohttp.TCPConnector(limit=self.slots * 2, force_close=False)
        timeout = aiohttp.ClientTimeout(total=30)
        signed_in = asyncio.Barrier(self.slots + 1)
        self.signing_in = asyncio.Semaphore(4)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()) as http:
            self.stop_at = float("inf")
            tasks = [asyncio.create_task(self.slot(http, i, signed_in)) for i in range(self.slots)]
            await signed_in.wait()  # every slot has signed in: the clock starts
            self.results.t_start = time.perf_counter() + self.warmup
            self.results.t_end = self.results.t_start + self.duration
            self.stop_at = self.results.t_end
            if self.on_window is not None:
                loop = asyncio.get_running_loop()
                loop.call_later(self.warmup, self.on_window, "start")
                loop.call_later(self.warmup + self.duration, self.on_window, "end")
            await asyncio.gather(*tasks)
        return self.results


def run(base_url: str, study: dict, **kwargs) -> Results:
    return asyncio.run(Driver(base_url, study, **kwargs).run())
