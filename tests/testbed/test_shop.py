"""The testbed's shop endpoints (login, products, cart, checkout) on a real testbed."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

from loadtrial.testbed import TestbedConfig, down, load_state, up
from loadtrial.testbed.model import TestbedState, dsn

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestbedState]:
    state_path: Path = tmp_path_factory.mktemp("tb") / "state.json"
    up(TestbedConfig(), state_path)
    try:
        state = load_state(state_path)
        assert state is not None
        yield state
    finally:
        down(state_path)


def call(
    state: TestbedState, method: str, path: str, body: object = None, token: str = ""
) -> tuple[int, Any]:
    """One request to the testbed; (status, parsed JSON or text)."""
    url = urlsplit(state.base_url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, None if body is None else json.dumps(body), headers)
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    try:
        return resp.status, json.loads(raw)
    except ValueError:
        return resp.status, raw.decode()


def _orders_of(state: TestbedState, customer: int) -> int:
    with psycopg.connect(dsn(state.dbs[0].proc.port)) as conn:
        row = conn.execute("SELECT count(*) FROM orders WHERE customer_id = %s", (customer,))
        return int(row.fetchone()[0])  # type: ignore[index]


def test_login_cart_checkout_writes_an_order(shop: TestbedState) -> None:
    status, got = call(shop, "POST", "/login", {"user": "c42@example.test", "password": "pw-42"})
    assert status == 200 and got["customer_id"] == 42
    token = got["token"]
    assert call(shop, "GET", "/products/9999")[1]["id"] == 9999
    assert call(shop, "GET", "/products/10001")[0] == 404
    before = _orders_of(shop, 42)
    status, got = call(shop, "POST", "/cart", {"product_id": 7, "qty": 2}, token)
    assert (status, got["cart_id"], got["items"]) == (201, 42, 1)
    assert call(shop, "POST", "/cart", {"product_id": 8}, token)[1]["items"] == 2
    status, got = call(shop, "GET", "/cart/42", token=token)
    assert status == 200 and got["items"] == [
        {"product_id": 7, "qty": 2},
        {"product_id": 8, "qty": 1},
    ]
    assert call(shop, "GET", "/cart/43", token=token)[0] == 403  # another customer's cart
    status, got = call(shop, "POST", "/checkout", {}, token)
    assert status == 201 and got["items"] == 2
    assert _orders_of(shop, 42) == before + 2
    assert call(shop, "POST", "/checkout", {}, token)[0] == 409  # the cart is empty now


def test_a_wrong_password_or_a_forged_token_is_refused(shop: TestbedState) -> None:
    assert call(shop, "POST", "/login", {"user": "c42@example.test", "password": "pw-43"})[0] == 401
    assert call(shop, "POST", "/login", {"user": "nobody@example.test", "password": "x"})[0] == 401
    assert call(shop, "POST", "/cart", {"product_id": 7})[0] == 401
    assert call(shop, "POST", "/cart", {"product_id": 7}, "42.forged")[0] == 401
    assert call(shop, "POST", "/checkout", {}, "41." + "0" * 32)[0] == 401
