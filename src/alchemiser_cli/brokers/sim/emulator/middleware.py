"""Cross-cutting REST behaviour: request counts and log, auth, the rate limit, injected
faults, and Alpaca's error bodies (JSON, even for unknown routes).

No credentials: 401 (alpaca.markets/learn/how-to-fix-common-trading-api-errors-at-alpaca)
``{"code":40110000,"message":"request is not authorized"}`` (alpacahq/alpaca-py#391); an
unknown route: 404 ``{"code":40410000,"message":"endpoint not found"}`` (Alpaca-API#137);
over the limit: 429 "rate limit exceeded" (alpaca-trade-api-csharp#416). The numeric codes
of 429, 405, 500 and 504 answers are not documented: they are the emulator's.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal

from aiohttp import web

from alchemiser_cli.brokers.port import BrokerError, RateLimitedError, TransientBrokerError
from alchemiser_cli.brokers.sim.emulator.app import AlpacaEmulator, RequestRecord, emulator_of
from alchemiser_cli.brokers.sim.emulator.quota import QuotaAnswer
from alchemiser_cli.brokers.sim.emulator.wire import error, num
from alchemiser_cli.brokers.sim.order_checks import InsufficientBuyingPowerError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: The forms a refused key has been seen in: 403 ``{"message": "forbidden."}``
#: (alpacahq/Alpaca-API#228, alpacahq/alpaca-py#347), 401 with code 40110000
#: (Alpaca-API#186), and an nginx HTML 403 (alpacahq/alpaca-trade-api-csharp#244).
HTML_403 = ("<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n"
            "<center><h1>403 Forbidden</h1></center>\r\n</body>\r\n</html>\r\n")
DATA_PREFIXES = ("/v2/stocks", "/v1beta")


def route_name(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return f"{request.method} {resource.canonical if resource is not None else request.path}"


def refused(emu: AlpacaEmulator) -> web.Response:
    form = emu.http.auth_error
    if form == "401":
        return error(401, 40110000, "access key verification failed : access key not found")
    if form == "html":
        return web.Response(status=403, text=HTML_403, content_type="text/html")
    return error(403, None, "forbidden.")


@web.middleware
async def gatekeeper(request: web.Request, handler: Handler) -> web.StreamResponse:
    emu = emulator_of(request)
    if request.path.startswith("/_sim"):
        return await handler(request)
    emu.counts[route_name(request)] += 1
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return await handler(request)  # streams authenticate inside the protocol
    started = time.perf_counter()
    quota: QuotaAnswer | None = None
    response = await _answer(emu, request, handler)
    if isinstance(response, tuple):
        response, quota = response
    if quota is not None:
        response.headers.update(quota.headers())
    emu.record(RequestRecord(request.method, request.path_qs, response.status,
                             (time.perf_counter() - started) * 1000,
                             None if quota is None else quota.remaining))
    return response


async def _answer(emu: AlpacaEmulator, request: web.Request, handler: Handler
                  ) -> web.StreamResponse | tuple[web.StreamResponse, QuotaAnswer]:
    key = request.headers.get("APCA-API-KEY-ID")
    secret = request.headers.get("APCA-API-SECRET-KEY")
    if not key or not secret:
        return error(401, 40110000, "request is not authorized")
    if not emu.credentials_ok(key, secret):
        return refused(emu)
    emu.quota.per_minute = emu.http.rate_limit
    api = "data" if request.path.startswith(DATA_PREFIXES) else "trading"
    quota = emu.quota.take(key, api)
    if not quota.allowed:
        return error(429, 42910000, "rate limit exceeded"), quota
    http = emu.http
    if http.slow_seconds:
        await asyncio.sleep(http.slow_seconds)
    if http.http_429 > 0:
        http.http_429 -= 1
        burst = QuotaAnswer(False, quota.limit, 0, int(time.time()) + 1)
        return error(429, 42910000, "rate limit exceeded"), burst
    if http.fail_path and request.path == http.fail_path:
        return error(500, 50010000, "internal server error"), quota
    if http.http_5xx > 0:
        http.http_5xx -= 1
        return error(500, 50010000, "internal server error"), quota
    response = await _handle(request, handler)
    if (http.submit_then_5xx > 0 and request.method == "POST" and request.path == "/v2/orders"
            and response.status == 200):
        http.submit_then_5xx -= 1  # the order exists, but the client never learns it
        return error(500, 50010000, "internal server error"), quota
    return response, quota


async def _handle(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return error(404, 40410000, "endpoint not found")
    except web.HTTPMethodNotAllowed:
        return error(405, 40510000, "method not allowed")
    except InsufficientBuyingPowerError as exc:  # alpaca-py#225: the body names both amounts
        return error(403, 40310000, str(exc), buying_power=_text(exc.buying_power),
                     cost_basis=_text(exc.cost_basis))
    except RateLimitedError as exc:
        return error(429, 42910000, str(exc))
    except TransientBrokerError as exc:
        return error(exc.status or 504, 50410000, str(exc))
    except BrokerError as exc:
        return error(exc.status or 422, exc.code or 42210000, str(exc))
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        return error(422, 40010001, f"invalid request: {exc}")


def _text(value: Decimal) -> str:
    return num(value, 2) or "0"
