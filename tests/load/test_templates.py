"""Templated values and data files, sent to a real server on 127.0.0.1."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from shop_target import ShopTarget

from loadtrial.load import run_load
from loadtrial.load.data import DataExhausted, DataSet
from loadtrial.load.model import DataSource, LoadPlan, OpenModel, RequestSpec, Stage
from loadtrial.load.template import Context, Sources, compile_template
from loadtrial.load.wire import Origin, compile_request, encode_request

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def users_csv(tmp_path: Path) -> str:
    path = tmp_path / "users.csv"
    path.write_text("email,password\na@x.test,pa\nb@x.test,pb\nc@x.test,pc\n")
    return str(path)


def _ctx(data: dict[str, DataSet] | None = None, env: dict[str, str] | None = None) -> Context:
    return Context(Sources(env or {}, data or {}))


def test_slots_render_each_form() -> None:
    tpl = compile_template("/i/{{random_int(5, 7)}}?u={{uuid}}&s={{seq}}&k={{env.KEY}}&v={{tok}}")
    ctx = _ctx(env={"KEY": "sekrit"})
    ctx.variables["tok"] = "T1"
    first, second = tpl.render(ctx), tpl.render(ctx)
    path, query = first.split("?")
    assert 5 <= int(path.rsplit("/", 1)[1]) <= 7
    q = dict(kv.split("=") for kv in query.split("&"))
    assert uuid.UUID(q["u"]).version == 4
    assert (q["s"], q["k"], q["v"]) == ("1", "sekrit", "T1")
    assert dict(kv.split("=") for kv in second.split("?")[1].split("&"))["s"] == "2"
    assert tpl.literals[0] == "/i/"  # parsed once: literal parts kept, slots are functions


def test_a_json_body_escapes_each_value_inside_its_string() -> None:
    body = compile_template('{"user":"{{who}}","n":"{{seq}}"}', json_string=True)
    ctx = _ctx()
    ctx.variables["who"] = 'O"Brien \\ \n'  # a quote, a backslash, a newline
    assert json.loads(body.render(ctx)) == {"user": 'O"Brien \\ \n', "n": "1"}
    # a request with a JSON content type (what `json:` in a trial gives) escapes its body
    spec = RequestSpec(
        "login", "POST", "http://127.0.0.1:9/login",
        (("Content-Type", "application/json"),), b'{"user":"{{who}}"}',
    )  # fmt: skip
    sent = compile_request(spec, Origin("http", "127.0.0.1", 9)).render(ctx)
    assert json.loads(sent.split(b"\r\n\r\n", 1)[1]) == {"user": 'O"Brien \\ \n'}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("/{{nope(1)}}", "is not a template"),
        ("/{{users.email}}", "unknown data set 'users'"),
        ("/{{random_int(9, 1)}}", "low bound"),
        ("/{{seq", "unclosed"),
    ],
)
def test_bad_slots_are_refused_with_what(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        compile_template(text)


def test_one_context_reads_one_row_and_pick_rules(users_csv: str) -> None:
    circular = DataSet(DataSource("users", users_csv, "circular"))
    tpl = compile_template("{{users.email}}:{{users.password}}", frozenset({"users"}))
    got = [tpl.render(_ctx({"users": circular})) for _ in range(4)]
    assert got == ["a@x.test:pa", "b@x.test:pb", "c@x.test:pc", "a@x.test:pa"]
    # two workers split unique rows: w0 takes rows 0 and 2, w1 row 1, then each runs out
    w0 = DataSet(DataSource("users", users_csv, "unique"), worker=0, workers=2)
    w1 = DataSet(DataSource("users", users_csv, "unique"), worker=1, workers=2)
    assert [w0.pick()["email"], w0.pick()["email"], w1.pick()["email"]] == [
        "a@x.test",
        "c@x.test",
        "b@x.test",
    ]
    with pytest.raises(DataExhausted, match=r"all 3 rows of .*users\.csv are used"):
        w1.pick()


def test_a_request_without_slots_renders_the_same_bytes_as_pre_built() -> None:
    origin = Origin("http", "127.0.0.1", 8080)
    spec = RequestSpec("r", "POST", "http://127.0.0.1:8080/a b", (("X-A", "1"),), b'{"q":1}')
    assert compile_request(spec, origin).render(_ctx()) == encode_request(spec, origin)


def test_templated_requests_send_rendered_values(
    shop: ShopTarget, users_csv: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LT_TEST_TOKEN", "from-env")
    plan = LoadPlan(
        (
            RequestSpec("item", "GET", shop.url + "item/{{random_int(1, 3)}}"),
            RequestSpec(
                "login",
                "POST",
                shop.url + "login",
                (("Authorization", "Bearer {{env.LT_TEST_TOKEN}}"),),
                b'{"user":"{{users.email}}","password":"{{users.password}}","n":{{seq}}}',
            ),
            RequestSpec("plain", "GET", shop.url + "plain"),
        ),
        OpenModel((Stage(1.0, 60),)),
        data=(DataSource("users", users_csv, "circular"),),
    )
    result = run_load(plan)
    assert sum(iv.completed for iv in result.intervals) == 60
    assert {p for p in shop.paths if p.startswith("/item")} <= {"/item/1", "/item/2", "/item/3"}
    assert "/plain" in shop.paths
    assert shop.posts, "no login was sent"
    seqs = []
    for path, headers, body in shop.posts:
        assert path == "/login" and headers["Authorization"] == "Bearer from-env"
        text = body.decode()
        assert any(f'"user":"{u}@x.test","password":"p{u}"' in text for u in "abc"), text
        seqs.append(int(text.rsplit(":", 1)[1].rstrip("}")))
    assert sorted(seqs) == list(range(1, len(seqs) + 1))


def test_unique_data_running_out_ends_the_run_saying_so(shop: ShopTarget, users_csv: str) -> None:
    plan = LoadPlan(
        (RequestSpec("u", "GET", shop.url + "u/{{users.email}}"),),
        OpenModel((Stage(1.0, 20),)),
        data=(DataSource("users", users_csv, "unique"),),
    )
    result = run_load(plan)
    assert not result.valid
    (reason,) = result.invalid_reasons
    assert "data users: all 3 rows of" in reason and "(pick: unique)" in reason
    assert sum(iv.completed for iv in result.intervals) <= 3
