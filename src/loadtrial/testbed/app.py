"""One testbed app node: a small Starlette shop on uvicorn with a lazily-growing db pool.

In (environment): LT_NODE (name), LT_DSN (writer endpoint), LT_POOL_MAX, LT_POOL_TIMEOUT_S.
Out: HTTP endpoints with a realistic mix, as `python -m loadtrial.testbed.app --fd N`:

    GET  /health           no db (the balancer's health check)
    GET  /                 a cheap page, no db
    GET  /items/{id}       an indexed read
    GET  /report?hold_ms=  a heavier report query that holds its connection (default 200 ms)
    GET  /render?cpu_ms=   app CPU only: deterministic Python work of about N ms (default
                           10), no db; a node is one process, so it saturates one core
    GET  /stats?rows=      db CPU: sales by region and month over the first N orders
                           (default 20000: ~10 ms of one db core; 70000, all the seeded
                           orders: ~26 ms), no waiting in the db
    POST /orders           a write transaction (insert an order, take stock)
    POST /login, GET /products/{id}, POST /cart, POST /checkout: the shop of user flows
                           (testbed/shop.py)
    GET  /metrics          the node's pool in Prometheus text

The pool starts empty and grows to LT_POOL_MAX. When it cannot get a connection within
LT_POOL_TIMEOUT_S (pool exhausted, or the db refusing new connections) the request gets a
503 after that timeout, as a real app's would.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import psycopg
import uvicorn
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from loadtrial.testbed.shop import shop_routes

REPORT_SQL = """
SELECT c.region, count(*) AS orders, sum(o.total) AS revenue
FROM orders o JOIN customers c ON c.id = o.customer_id
WHERE o.customer_id BETWEEN %s AND %s
GROUP BY c.region ORDER BY revenue DESC
"""
STATS_SQL = """
SELECT c.region, date_trunc('month', o.created_at) AS month, count(*), sum(o.total)::float8
FROM orders o JOIN customers c ON c.id = o.customer_id
WHERE o.id <= %s
GROUP BY 1, 2 ORDER BY 1, 2
"""
MAX_HOLD_MS = 5000
MAX_CPU_MS = 1000
MAX_STATS_ROWS = 1_000_000


def cpu_work(rounds: int) -> int:
    """Deterministic Python work: `rounds` steps of an integer hash (the GIL held)."""
    acc = 0
    for i in range(rounds):
        acc = (acc * 31 + i) % 1_000_003
    return acc


def rounds_per_ms(trials: int = 5, rounds: int = 20_000) -> float:
    """How many rounds of `cpu_work` take 1 ms of this process's CPU here (the best of
    `trials`, in CPU time, so other busy processes at startup do not skew it)."""
    best = float("inf")
    for _ in range(trials):
        started = time.process_time()
        cpu_work(rounds)
        best = min(best, time.process_time() - started)
    return rounds / max(best * 1000.0, 1e-3)


@dataclass(frozen=True)
class NodeConfig:
    """How one node is set up, from its environment."""

    node: str
    dsn: str
    pool_max: int
    pool_timeout_s: float

    @staticmethod
    def from_env() -> NodeConfig:
        """Read LT_NODE, LT_DSN, LT_POOL_MAX and LT_POOL_TIMEOUT_S."""
        return NodeConfig(
            node=os.environ.get("LT_NODE", "app"),
            dsn=os.environ.get("LT_DSN", ""),
            pool_max=int(os.environ.get("LT_POOL_MAX", "10")),
            pool_timeout_s=float(os.environ.get("LT_POOL_TIMEOUT_S", "2")),
        )


def _db_error(exc: Exception) -> Response:
    """Map a db failure to what a real app answers: 503 for no connection, 500 otherwise."""
    if isinstance(exc, PoolTimeout | psycopg.OperationalError):
        return PlainTextResponse(f"database unavailable: {type(exc).__name__}\n", status_code=503)
    return PlainTextResponse(f"database error: {type(exc).__name__}\n", status_code=500)


def build_app(config: NodeConfig) -> Starlette:
    """Return the node's ASGI app; its pool opens (empty) at startup, closes at shutdown."""
    pool = AsyncConnectionPool(
        config.dsn,
        min_size=0,
        max_size=config.pool_max,
        timeout=config.pool_timeout_s,
        open=False,
        name=config.node,
        kwargs={"connect_timeout": 3},
    )

    per_ms = rounds_per_ms()

    async def render(request: Request) -> Response:
        cpu_ms = min(MAX_CPU_MS, max(0.0, float(request.query_params.get("cpu_ms", "10"))))
        # Synchronous on purpose: CPU-bound Python blocks the node's one event loop.
        result = cpu_work(int(cpu_ms * per_ms))
        return HTMLResponse(f"<html><body><p>{config.node} rendered {result}</p></body></html>")

    async def stats(request: Request) -> Response:
        rows = min(MAX_STATS_ROWS, max(1, int(request.query_params.get("rows", "20000"))))
        try:
            async with pool.connection() as conn:
                cur = await conn.execute(STATS_SQL, (rows,))
                found = await cur.fetchall()
        except (PoolTimeout, psycopg.Error) as exc:
            return _db_error(exc)
        return JSONResponse([[r[0], r[1].isoformat(), r[2], r[3]] for r in found])

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def home(request: Request) -> Response:
        return HTMLResponse(f"<html><body><h1>testbed shop</h1><p>{config.node}</p></body></html>")

    async def item(request: Request) -> Response:
        item_id = int(request.path_params["item_id"]) % 10000 + 1
        try:
            async with pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT id, sku, name, price::float8, stock FROM products WHERE id = %s",
                    (item_id,),
                )
                row = await cur.fetchone()
        except (PoolTimeout, psycopg.Error) as exc:
            return _db_error(exc)
        if row is None:
            return PlainTextResponse("not found\n", status_code=404)
        keys = ("id", "sku", "name", "price", "stock")
        return JSONResponse(dict(zip(keys, row, strict=True)))

    async def report(request: Request) -> Response:
        hold_ms = min(MAX_HOLD_MS, max(0, int(request.query_params.get("hold_ms", "200"))))
        low = random.randint(1, 19000)
        try:
            async with pool.connection() as conn:
                # The hold stands for a slow report's server time (once, not per row).
                await conn.execute("SELECT pg_sleep(%s)", (hold_ms / 1000.0,))
                cur = await conn.execute(REPORT_SQL, (low, low + 500))
                rows = await cur.fetchall()
        except (PoolTimeout, psycopg.Error) as exc:
            return _db_error(exc)
        return JSONResponse([[r[0], r[1], float(r[2])] for r in rows])

    async def order(request: Request) -> Response:
        body = await request.body()
        data = json.loads(body) if body else {}
        qty = int(data.get("qty", 1))
        product = random.randint(1, 10000)
        customer = random.randint(1, 20000)
        try:
            async with pool.connection() as conn, conn.transaction():
                await conn.execute(
                    "UPDATE products SET stock = stock - %s WHERE id = %s", (qty, product)
                )
                cur = await conn.execute(
                    "INSERT INTO orders (customer_id, product_id, qty, total, created_at) "
                    "SELECT %s, id, %s, price * %s, now() FROM products WHERE id = %s "
                    "RETURNING id",
                    (customer, qty, qty, product),
                )
                row = await cur.fetchone()
        except (PoolTimeout, psycopg.Error) as exc:
            return _db_error(exc)
        return JSONResponse({"order_id": row[0] if row else None}, status_code=201)

    async def check_pool(request: Request) -> Response:
        # After a db restart or failover, drop dead idle connections before traffic hits them.
        await pool.check()
        return PlainTextResponse("checked\n")

    async def metrics(request: Request) -> Response:
        stats = pool.get_stats()
        lines = [
            f'testbed_app_pool{{node="{config.node}",stat="{k}"}} {v}' for k, v in stats.items()
        ]
        lines.append(f'testbed_app_pool_max{{node="{config.node}"}} {config.pool_max}')
        return PlainTextResponse("\n".join(lines) + "\n")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await pool.open(wait=False)
        try:
            yield
        finally:
            await pool.close(timeout=2.0)

    routes = [
        Route("/health", health),
        Route("/", home),
        Route("/items/{item_id:int}", item),
        Route("/report", report),
        Route("/render", render),
        Route("/stats", stats),
        Route("/orders", order, methods=["POST"]),
        Route("/metrics", metrics),
        Route("/admin/check-pool", check_pool, methods=["POST"]),
        *shop_routes(pool, _db_error),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def main() -> None:
    """Serve one node on an inherited listening socket (`--fd`)."""
    parser = argparse.ArgumentParser(description="one testbed app node")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--tag", default="", help="the testbed root, so `down` can find us")
    args = parser.parse_args()
    config = uvicorn.Config(
        build_app(NodeConfig.from_env()),
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        timeout_keep_alive=60,
        lifespan="on",
    )
    # Not `fd=`: uvicorn wraps such a socket as AF_UNIX, so the event loop never sets
    # TCP_NODELAY on its connections and every keep-alive response waits ~40 ms (Nagle
    # meeting delayed ACKs). socket(fileno=) reads the real family (AF_INET) from the fd.
    sock = socket.socket(fileno=args.fd)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
