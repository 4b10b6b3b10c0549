"""The testbed's shop endpoints for user flows: login, products, cart, checkout.

In: the node's db pool. Out: Starlette routes (mounted by app.py):

    POST /login          {"user": email, "password": ...} → 200 {"token", "customer_id"}
                         for a seeded customer (email c<N>@example.test, password pw-<N>),
                         else 401
    GET  /products/{id}  a product of the seeded ids 1..10000 (404 outside them)
    POST /cart           Authorization: Bearer <token>; {"product_id", "qty"} → 201
                         {"cart_id", "item_id", "items"}: a row in cart_items
    GET  /cart/{cart_id} Bearer token of that cart's customer → {"cart_id", "items": [...]}
                         (403 for another customer's cart)
    POST /checkout       Bearer token → 201 {"order_id", "items"}: the cart becomes orders
                         in one transaction; 409 when the cart is empty

A token is `<customer id>.<HMAC>` under the testbed's fixed key: every node behind the
balancer accepts every node's tokens without shared state.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

TOKEN_KEY = b"loadtrial-testbed"  # a test shop's key, not a secret
PRODUCTS = 10000


def password_of(customer_id: int) -> str:
    """The seeded password of customer `customer_id`."""
    return f"pw-{customer_id}"


def token_of(customer_id: int) -> str:
    """The bearer token the shop issues to `customer_id`."""
    mac = hmac.new(TOKEN_KEY, str(customer_id).encode(), hashlib.sha256).hexdigest()[:32]
    return f"{customer_id}.{mac}"


def customer_of(request: Request) -> int | None:
    """The customer a request's bearer token names, None when missing or forged."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    cid, _, _ = token.partition(".")
    if scheme.lower() != "bearer" or not cid.isdigit():
        return None
    return int(cid) if hmac.compare_digest(token, token_of(int(cid))) else None


async def _json(request: Request) -> dict[str, Any]:
    """The request's JSON object ({} when the body is empty or not an object)."""
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


Handler = Callable[[Request], Awaitable[Response]]


def shop_routes(
    pool: AsyncConnectionPool, db_error: Callable[[Exception], Response]
) -> list[Route]:
    """The shop's routes on `pool`; `db_error` maps a db failure to the app's answer."""

    def guarded(work: Callable[[Request], Awaitable[Response]]) -> Handler:
        async def handler(request: Request) -> Response:
            try:
                return await work(request)
            except (PoolTimeout, psycopg.Error) as exc:
                return db_error(exc)

        return handler

    async def login(request: Request) -> Response:
        data = await _json(request)
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT id FROM customers WHERE email = %s", (str(data.get("user", "")),)
            )
            row = await cur.fetchone()
        if row is None or data.get("password") != password_of(row[0]):
            return JSONResponse({"error": "wrong user or password"}, status_code=401)
        return JSONResponse({"token": token_of(row[0]), "customer_id": row[0]})

    async def product(request: Request) -> Response:
        pid = int(request.path_params["product_id"])
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT id, sku, name, price::float8, stock FROM products WHERE id = %s", (pid,)
            )
            row = await cur.fetchone()
        if row is None:
            return PlainTextResponse("not found\n", status_code=404)
        return JSONResponse(dict(zip(("id", "sku", "name", "price", "stock"), row, strict=True)))

    async def cart(request: Request) -> Response:
        customer = customer_of(request)
        if customer is None:
            return JSONResponse({"error": "log in first"}, status_code=401)
        data = await _json(request)
        pid, qty = int(data.get("product_id", 0)), int(data.get("qty", 1))
        if not (1 <= pid <= PRODUCTS and qty >= 1):
            return JSONResponse({"error": "no such product or qty"}, status_code=400)
        async with pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "INSERT INTO cart_items (customer_id, product_id, qty) VALUES (%s, %s, %s) "
                "RETURNING id, (SELECT count(*) FROM cart_items WHERE customer_id = %s)",
                (customer, pid, qty, customer),
            )
            row = await cur.fetchone()
        item_id, before = row if row is not None else (None, 0)
        body = {"cart_id": customer, "item_id": item_id, "items": int(before) + 1}
        return JSONResponse(body, status_code=201)

    async def view_cart(request: Request) -> Response:
        customer = customer_of(request)
        if customer is None:
            return JSONResponse({"error": "log in first"}, status_code=401)
        if int(request.path_params["cart_id"]) != customer:
            return JSONResponse({"error": "not your cart"}, status_code=403)
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT product_id, qty FROM cart_items WHERE customer_id = %s ORDER BY id",
                (customer,),
            )
            rows = await cur.fetchall()
        items = [{"product_id": p, "qty": q} for p, q in rows]
        return JSONResponse({"cart_id": customer, "items": items})

    async def checkout(request: Request) -> Response:
        customer = customer_of(request)
        if customer is None:
            return JSONResponse({"error": "log in first"}, status_code=401)
        async with pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "WITH taken AS (DELETE FROM cart_items WHERE customer_id = %s "
                "RETURNING product_id, qty) "
                "INSERT INTO orders (customer_id, product_id, qty, total, created_at) "
                "SELECT %s, p.id, t.qty, p.price * t.qty, now() "
                "FROM taken t JOIN products p ON p.id = t.product_id RETURNING id",
                (customer, customer),
            )
            ids = [r[0] for r in await cur.fetchall()]
        if not ids:
            return JSONResponse({"error": "the cart is empty"}, status_code=409)
        return JSONResponse({"order_id": max(ids), "items": len(ids)}, status_code=201)

    return [
        Route("/login", guarded(login), methods=["POST"]),
        Route("/products/{product_id:int}", guarded(product)),
        Route("/cart", guarded(cart), methods=["POST"]),
        Route("/cart/{cart_id:int}", guarded(view_cart)),
        Route("/checkout", guarded(checkout), methods=["POST"]),
    ]
