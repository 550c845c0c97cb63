"""The specs are valid, self-consistent and their examples match their schemas.

The checks live in ``scripts/check_specs.py`` (runnable on its own); this module runs them on
``specs/openapi.yaml`` and ``specs/asyncapi.yaml``, one test per operation and per example so a
failure names its location, and proves each checker catches a defect planted in a small spec.
"""

from __future__ import annotations

import copy
import importlib.util
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "check_specs.py"


def _load_checker() -> ModuleType:
    """Import scripts/check_specs.py by path (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("check_specs", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


cs = _load_checker()

OPENAPI = cs.load_spec(cs.OPENAPI_PATH, "openapi")
ASYNCAPI = cs.load_spec(cs.ASYNCAPI_PATH, "asyncapi")
BOTH = [pytest.param(OPENAPI, id="openapi"), pytest.param(ASYNCAPI, id="asyncapi")]


def _report(problems: list[Any]) -> str:
    return "\n" + "\n".join(f"  {p}" for p in problems)


def _or_missing(params: list[Any], what: str) -> list[Any]:
    """An empty parameter list becomes one failing case instead of a silent skip."""
    return params or [pytest.param(None, id=f"no-{what}")]


def _example_params() -> list[Any]:
    params = []
    for spec in (OPENAPI, ASYNCAPI):
        params += [pytest.param(case, id=case.id) for case in cs.collect_examples(spec)[0]]
    return _or_missing(params, "examples")


def _operation_params() -> list[Any]:
    params = []
    for pointer in cs.openapi_operations(OPENAPI):
        method = pointer.rsplit("/", 1)[1].upper()
        path = pointer.split("/")[2].replace("~1", "/").replace("~0", "~")
        params.append(pytest.param(pointer, id=f"{method} {path}"))
    return _or_missing(params, "operations")


def _channel_operation_params() -> list[Any]:
    params = [pytest.param(n, id=n) for n in cs.asyncapi_operation_names(ASYNCAPI)]
    return _or_missing(params, "operations")


# --------------------------------------------------------------------------- the real specs


@pytest.mark.parametrize("spec", BOTH)
def test_spec_loads_as_portable_yaml(spec: Any) -> None:
    """The spec file exists and its YAML reads the same in PyYAML as in a JSON/YAML 1.2 reader."""
    assert spec.load_problems == [], _report(spec.load_problems)


def test_openapi_is_valid_openapi_31() -> None:
    """specs/openapi.yaml passes openapi-spec-validator (OpenAPI 3.1)."""
    assert OPENAPI.doc is not None
    problems = cs.check_openapi_schema(OPENAPI)
    assert problems == [], _report(problems)


def test_asyncapi_is_valid_asyncapi_300() -> None:
    """specs/asyncapi.yaml validates against the official AsyncAPI 3.0.0 JSON Schema."""
    assert ASYNCAPI.doc is not None
    problems = cs.check_asyncapi_schema(ASYNCAPI)
    assert problems == [], _report(problems)


@pytest.mark.parametrize("spec", BOTH)
def test_every_ref_resolves(spec: Any) -> None:
    """Every $ref in the spec is internal and points at something that exists."""
    assert spec.doc is not None
    problems = cs.check_refs(spec)
    assert problems == [], _report(problems)


@pytest.mark.parametrize("name", _channel_operation_params())
def test_asyncapi_operation_uses_its_channels_messages(name: str | None) -> None:
    """The operation's channel is a root channel and its messages are that channel's messages."""
    assert name is not None, "specs/asyncapi.yaml has no operations"
    problems = cs.check_operation(ASYNCAPI, name)
    assert problems == [], _report(problems)


def test_asyncapi_channel_parameters_match_addresses() -> None:
    """Each channel's address expressions and its parameters name the same things."""
    assert ASYNCAPI.doc is not None
    problems = cs.check_channel_parameters(ASYNCAPI)
    assert problems == [], _report(problems)


@pytest.mark.parametrize("case", _example_params())
def test_example_matches_its_schema(case: Any) -> None:
    """This example validates against its schema ($refs resolved, formats checked)."""
    assert case is not None, "the specs have no examples"
    problems = cs.check_example(case)
    assert problems == [], _report(problems)


@pytest.mark.parametrize("spec", BOTH)
def test_examples_are_well_formed(spec: Any) -> None:
    """Schema-level ``examples`` are arrays, as JSON Schema requires."""
    problems = cs.collect_examples(spec)[1]
    assert problems == [], _report(problems)


@pytest.mark.parametrize("spec", BOTH)
def test_inferred_items_give_a_reason(spec: Any) -> None:
    """Every ``x-inferred: true`` carries a one-line ``x-inferred-reason``."""
    assert spec.doc is not None
    problems = cs.check_inferred(spec)
    assert problems == [], _report(problems)


def test_openapi_security_requirements_name_defined_schemes() -> None:
    """Every security requirement in specs/openapi.yaml names a defined security scheme."""
    assert OPENAPI.doc is not None
    problems = cs.check_security(OPENAPI)
    assert problems == [], _report(problems)


@pytest.mark.parametrize("pointer", _operation_params())
def test_openapi_operation_documents_errors_and_examples(pointer: str | None) -> None:
    """401/404/422/429+Retry-After/5XX are documented; request and 2xx JSON bodies have examples."""
    assert pointer is not None, "specs/openapi.yaml has no operations"
    problems = cs.check_operation_responses(OPENAPI, pointer)
    assert problems == [], _report(problems)


def test_vendored_asyncapi_schema_is_the_300_draft7_schema() -> None:
    """The vendored official schema is the Draft 7 schema of AsyncAPI 3.0.0."""
    schema = cs.asyncapi_schema()
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema"
    assert schema["properties"]["asyncapi"]["const"] == "3.0.0"


# --------------------------------------------------------------------------- planted defects

UUID = "3f1d2c4b-5a69-4e7f-8a9b-0c1d2e3f4a5b"
ORDER = {"id": UUID, "power": 1000, "start": "2025-01-01T12:00:00Z"}
ERROR_BODY = {
    "description": "An error.",
    "content": {
        "application/json": {
            "schema": {"type": "object", "properties": {"detail": {"type": "string"}}},
            "example": {"detail": "Something went wrong."},
        }
    },
}
ERRORS = {code: {"$ref": "#/components/responses/Error"} for code in ("401", "404", "422", "500")}
MINI_OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "mini", "version": "1"},
    "security": [{"bearer": []}],
    "paths": {
        "/orders/{id}": {
            "get": {
                "operationId": "get_order",
                "x-inferred": True,
                "x-inferred-reason": "Users need to read their orders back.",
                "parameters": [
                    {
                        "name": "id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "format": "uuid"},
                        "example": UUID,
                    }
                ],
                "responses": {
                    "200": {
                        "description": "The order.",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Order"},
                                "examples": {"one": {"$ref": "#/components/examples/Order"}},
                            }
                        },
                    },
                    **ERRORS,
                    "429": {"$ref": "#/components/responses/RateLimited"},
                },
            }
        },
        "/orders/": {
            "post": {
                "operationId": "create_order",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/Order"},
                            "example": dict(ORDER),
                        }
                    },
                },
                "responses": {
                    "201": {
                        "description": "Created.",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Order"},
                                "example": dict(ORDER),
                            }
                        },
                    },
                    "401": {"$ref": "#/components/responses/Error"},
                    "422": {"$ref": "#/components/responses/Error"},
                    "429": {"$ref": "#/components/responses/RateLimited"},
                    "default": {"$ref": "#/components/responses/Error"},
                },
            }
        },
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "examples": {"Order": {"value": dict(ORDER)}},
        "responses": {
            "Error": ERROR_BODY,
            "RateLimited": {
                **ERROR_BODY,
                "headers": {
                    "Retry-After": {
                        "description": "Seconds to wait.",
                        "schema": {"type": "integer", "minimum": 0},
                        "example": 30,
                    }
                },
            },
        },
        "schemas": {
            "Order": {
                "type": "object",
                "required": ["id", "power", "start"],
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "power": {
                        "type": "integer",
                        "format": "int32",
                        "exclusiveMinimum": 0,
                        "description": "Power in W.",
                        "examples": [1000],
                    },
                    "start": {
                        "type": "string",
                        "format": "date-time",
                        "example": "2025-01-01T12:00:00Z",
                    },
                },
            }
        },
    },
}

MINI_ASYNCAPI: dict[str, Any] = {
    "asyncapi": "3.0.0",
    "info": {"title": "mini", "version": "1"},
    "channels": {
        "in": {
            "address": "in",
            "messages": {
                "ask": {"$ref": "#/components/messages/Order"},
                "bid": {"$ref": "#/components/messages/Order"},
            },
        },
        "user": {
            "address": "user.{key}",
            "parameters": {"key": {"enum": ["a", "b"], "examples": ["a"], "default": "b"}},
            "messages": {
                "tick": {
                    "payload": {
                        "type": "object",
                        "required": ["msg_type"],
                        "properties": {"msg_type": {"const": "tick"}},
                    },
                    "examples": [{"payload": {"msg_type": "tick"}}],
                }
            },
        },
    },
    "operations": {
        "sendAsk": {
            "action": "send",
            "channel": {"$ref": "#/channels/in"},
            "messages": [{"$ref": "#/channels/in/messages/ask"}],
            "reply": {
                "channel": {"$ref": "#/channels/user"},
                "messages": [{"$ref": "#/channels/user/messages/tick"}],
            },
        },
        "receiveTick": {
            "action": "receive",
            "channel": {"$ref": "#/channels/user"},
            "messages": [{"$ref": "#/channels/user/messages/tick"}],
        },
    },
    "components": {
        "channels": {"elsewhere": {"address": "elsewhere"}},
        "messages": {
            "Order": {
                "headers": {
                    "type": "object",
                    "properties": {"sendertimestamp_in_ms": {"type": "integer", "minimum": 0}},
                },
                "payload": {"$ref": "#/components/schemas/OrderLine"},
                "examples": [
                    {"headers": {"sendertimestamp_in_ms": 1}, "payload": {"power": 5}},
                ],
            }
        },
        "schemas": {
            "OrderLine": {
                "type": "object",
                "properties": {
                    "power": {"type": "integer", "exclusiveMinimum": 0, "examples": [1]}
                },
            }
        },
    },
}

Edit = Callable[[dict[str, Any]], None]
GET = "/paths/~1orders~1{id}/get"
POST = "/paths/~1orders~1/post"


def _parent(doc: Any, pointer: str) -> tuple[Any, str | int]:
    parent_pointer, last = pointer.rsplit("/", 1)
    parent = cs.resolve_pointer(doc, parent_pointer)
    key = last.replace("~1", "/").replace("~0", "~")
    return parent, int(key) if isinstance(parent, list) else key


def put(pointer: str, value: Any) -> Edit:
    """An edit that sets the value at a JSON pointer."""

    def edit(doc: dict[str, Any]) -> None:
        parent, key = _parent(doc, pointer)
        parent[key] = value

    return edit


def drop(pointer: str) -> Edit:
    """An edit that deletes the value at a JSON pointer."""

    def edit(doc: dict[str, Any]) -> None:
        parent, key = _parent(doc, pointer)
        del parent[key]

    return edit


def both(*edits: Edit) -> Edit:
    """An edit that applies several edits in order."""

    def edit(doc: dict[str, Any]) -> None:
        for one in edits:
            one(doc)

    return edit


def planted(kind: str, *edits: Edit) -> Any:
    """A mini spec of this kind with the edits applied."""
    doc = copy.deepcopy(MINI_OPENAPI if kind == "openapi" else MINI_ASYNCAPI)
    for edit in edits:
        edit(doc)
    return cs.spec_from_dict(doc, kind, f"mini-{kind}")


def _pointers(problems: list[Any]) -> list[str]:
    return [p.pointer for p in problems]


@pytest.mark.parametrize("kind", ["openapi", "asyncapi"])
def test_clean_mini_spec_has_no_problems(kind: str) -> None:
    """The unedited mini specs pass every check, so each planted defect below is what fails."""
    spec = planted(kind)
    assert cs.check_spec(spec) == []
    assert len(cs.collect_examples(spec)[0]) >= 6


def test_openapi_checker_catches_an_invalid_document() -> None:
    """openapi-spec-validator errors are reported with their pointer."""
    spec = planted("openapi", drop("/paths/~1orders~1/post/responses/201/description"))
    problems = cs.check_openapi_schema(spec)
    assert problems and problems[0].check == "openapi-schema"
    assert "description" in problems[0].message


def test_openapi_checker_survives_a_dangling_ref() -> None:
    """A dangling $ref stops openapi-spec-validator; that becomes a problem, not a crash."""
    spec = planted("openapi", put("/components/schemas/Order/properties/x", {"$ref": "#/nope"}))
    problems = cs.check_openapi_schema(spec)
    assert [p.message for p in problems] == ["openapi-spec-validator stopped early at $ref '/nope'"]


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        pytest.param(
            put("/info/license", {"name": "MIT", "identifier": "MIT"}),
            "/info/license",
            id="openapi-only-license-field",
        ),
        pytest.param(put("/operations/sendAsk/action", "publish"), "/operations", id="bad-action"),
        pytest.param(put("/asyncapi", "2.6.0"), "/asyncapi", id="wrong-version"),
    ],
)
def test_asyncapi_checker_catches_schema_violations(edit: Edit, where: str) -> None:
    """The official AsyncAPI schema check reports a violation at (or above) its location."""
    problems = cs.check_asyncapi_schema(planted("asyncapi", edit))
    assert problems, "no problem reported"
    assert any(where.startswith(p.pointer) or p.pointer.startswith(where) for p in problems)


@pytest.mark.parametrize(
    ("kind", "edit", "expected"),
    [
        pytest.param(
            "openapi",
            put("/components/schemas/Order/properties/power", {"$ref": "#/components/schemas/W"}),
            "/components/schemas/Order/properties/power/$ref",
            id="openapi-schema-ref",
        ),
        pytest.param(
            "openapi",
            put("/paths/~1orders~1/post/responses/401", {"$ref": "#/components/responses/X"}),
            "/paths/~1orders~1/post/responses/401/$ref",
            id="openapi-response-ref",
        ),
        pytest.param(
            "openapi",
            put("/components/schemas/Order/properties/id", {"$ref": "other.yaml#/Id"}),
            "/components/schemas/Order/properties/id/$ref",
            id="openapi-external-ref",
        ),
        pytest.param(
            "asyncapi",
            put("/channels/in/messages/ask", {"$ref": "#/components/messages/Nope"}),
            "/channels/in/messages/ask/$ref",
            id="asyncapi-message-ref",
        ),
        pytest.param(
            "openapi",
            put(
                "/components/schemas/Order/discriminator",
                {"propertyName": "kind", "mapping": {"a": "#/components/schemas/A", "b": "B"}},
            ),
            [
                "/components/schemas/Order/discriminator/mapping/a",
                "/components/schemas/Order/discriminator/mapping/b",
            ],
            id="openapi-discriminator-mapping",
        ),
    ],
)
def test_ref_checker_catches_a_dangling_ref(kind: str, edit: Edit, expected: Any) -> None:
    """A $ref (or discriminator mapping) to nothing, or outside the file, is reported at it."""
    expected = expected if isinstance(expected, list) else [expected]
    assert _pointers(cs.check_refs(planted(kind, edit))) == expected


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param(put("/security/0", {"jwt": []}), "/security/0/jwt", id="root"),
        pytest.param(
            put(f"{POST}/security", [{"bearer": []}, {"oauth": []}]),
            f"{POST}/security/1/oauth",
            id="operation",
        ),
    ],
)
def test_security_checker_catches_an_undefined_scheme(edit: Edit, expected: str) -> None:
    """A security requirement naming no defined scheme is reported at the name."""
    assert _pointers(cs.check_security(planted("openapi", edit))) == [expected]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param(
            put("/operations/sendAsk/messages/0", {"$ref": "#/channels/user/messages/tick"}),
            "/operations/sendAsk/messages/0/$ref",
            id="message-of-another-channel",
        ),
        pytest.param(
            both(
                put("/channels/user/messages/ask", {"$ref": "#/components/messages/Order"}),
                put("/operations/sendAsk/messages/0", {"$ref": "#/channels/user/messages/ask"}),
            ),
            "/operations/sendAsk/messages/0/$ref",
            id="same-named-message-of-another-channel",
        ),
        pytest.param(
            put("/operations/sendAsk/messages/0", {"$ref": "#/components/messages/Order"}),
            "/operations/sendAsk/messages/0/$ref",
            id="message-from-components",
        ),
        pytest.param(
            put("/operations/sendAsk/messages/0", {"$ref": "#/channels/in/messages/cancel"}),
            "/operations/sendAsk/messages/0/$ref",
            id="message-missing-from-channel",
        ),
        pytest.param(
            put("/operations/sendAsk/reply/messages/0", {"$ref": "#/channels/in/messages/ask"}),
            "/operations/sendAsk/reply/messages/0/$ref",
            id="reply-message-of-another-channel",
        ),
        pytest.param(
            put("/operations/receiveTick/channel", {"$ref": "#/channels/nope"}),
            "/operations/receiveTick/channel",
            id="channel-missing",
        ),
        pytest.param(
            put("/operations/receiveTick/channel", {"$ref": "#/components/channels/elsewhere"}),
            "/operations/receiveTick/channel",
            id="channel-not-in-root-channels",
        ),
    ],
)
def test_operation_checker_catches_a_message_outside_its_channel(edit: Edit, expected: str) -> None:
    """An operation whose channel or messages do not line up is reported at the bad $ref."""
    problems = cs.check_operation_channels(planted("asyncapi", edit))
    assert expected in _pointers(problems), _report(problems)
    assert all(p.check == "channel" for p in problems)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param(
            drop("/channels/user/parameters/key"), "/channels/user/address", id="undeclared"
        ),
        pytest.param(
            put("/channels/user/parameters/extra", {}),
            "/channels/user/parameters/extra",
            id="unused",
        ),
    ],
)
def test_channel_parameter_checker_catches_a_mismatch(edit: Edit, expected: str) -> None:
    """Address expressions without parameters, and parameters not in the address, are reported."""
    problems = cs.check_channel_parameters(planted("asyncapi", edit))
    assert _pointers(problems) == [expected]


MEDIA = "/paths/~1orders~1/post/requestBody/content/application~1json"
GET_200 = "/paths/~1orders~1{id}/get/responses/200/content/application~1json"


@pytest.mark.parametrize(
    ("kind", "edit", "expected"),
    [
        pytest.param(
            "openapi", put(f"{MEDIA}/example/power", -5), f"{MEDIA}/example/power", id="media"
        ),
        pytest.param(
            "openapi",
            put("/components/examples/Order/value/id", "nope"),
            f"{GET_200}/examples/one/value/id",
            id="media-examples-via-ref",
        ),
        pytest.param(
            "openapi",
            put("/paths/~1orders~1{id}/get/parameters/0/example", "not-a-uuid"),
            "/paths/~1orders~1{id}/get/parameters/0/example",
            id="parameter-uuid",
        ),
        pytest.param(
            "openapi",
            put("/components/responses/RateLimited/headers/Retry-After/example", -1),
            "/components/responses/RateLimited/headers/Retry-After/example",
            id="header",
        ),
        pytest.param(
            "openapi",
            put("/components/schemas/Order/properties/start/example", "2025-01-01T12:00:00"),
            "/components/schemas/Order/properties/start/example",
            id="schema-example-date-time-without-offset",
        ),
        pytest.param(
            "openapi",
            put("/components/schemas/Order/properties/power/examples/0", 2**31),
            "/components/schemas/Order/properties/power/examples/0",
            id="schema-examples-int32",
        ),
        pytest.param(
            "openapi",
            drop(f"{MEDIA}/example/start"),
            f"{MEDIA}/example",
            id="media-missing-required",
        ),
        pytest.param(
            "asyncapi",
            put("/components/messages/Order/examples/0/payload/power", 0),
            "/components/messages/Order/examples/0/payload/power",
            id="message-payload-via-ref",
        ),
        pytest.param(
            "asyncapi",
            put("/components/messages/Order/examples/0/headers/sendertimestamp_in_ms", "soon"),
            "/components/messages/Order/examples/0/headers/sendertimestamp_in_ms",
            id="message-headers",
        ),
        pytest.param(
            "asyncapi",
            put("/channels/user/messages/tick/examples/0/payload/msg_type", "tock"),
            "/channels/user/messages/tick/examples/0/payload/msg_type",
            id="inline-message-payload",
        ),
        pytest.param(
            "asyncapi",
            put("/components/schemas/OrderLine/properties/power/examples/0", -1),
            "/components/schemas/OrderLine/properties/power/examples/0",
            id="schema-examples",
        ),
        pytest.param(
            "asyncapi",
            put("/components/schemas/OrderLine/properties/power/default", 0),
            "/components/schemas/OrderLine/properties/power/default",
            id="schema-default",
        ),
        pytest.param(
            "asyncapi",
            put("/channels/user/parameters/key/examples/0", "zz"),
            "/channels/user/parameters/key/examples/0",
            id="parameter-not-in-enum",
        ),
    ],
)
def test_example_checker_catches_an_invalid_example(kind: str, edit: Edit, expected: str) -> None:
    """An example that breaks its schema is reported once, at the offending value."""
    problems = cs.check_examples(planted(kind, edit))
    assert _pointers(problems) == [expected], _report(problems)
    assert "cannot validate" not in problems[0].message  # the schema's $refs did resolve


def test_example_checker_reports_an_unresolvable_schema() -> None:
    """An example whose schema has a dangling $ref is reported, not silently passed."""
    edit = put("/components/schemas/Order/properties/id", {"$ref": "#/components/schemas/Id"})
    problems = cs.check_examples(planted("openapi", edit))
    assert problems and all("cannot validate" in p.message for p in problems)


def test_example_checker_rejects_object_shaped_schema_examples() -> None:
    """Schema-level ``examples`` written as a map (OpenAPI 3.0 habit) is reported."""
    edit = put("/components/schemas/Order/properties/power/examples", {"one": 1})
    problems = cs.collect_examples(planted("openapi", edit))[1]
    assert _pointers(problems) == ["/components/schemas/Order/properties/power/examples"]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param(
            drop("/paths/~1orders~1{id}/get/x-inferred-reason"),
            "/paths/~1orders~1{id}/get",
            id="no-reason",
        ),
        pytest.param(
            put("/paths/~1orders~1{id}/get/x-inferred-reason", "one\ntwo"),
            "/paths/~1orders~1{id}/get/x-inferred-reason",
            id="two-lines",
        ),
        pytest.param(
            put("/components/schemas/Order/x-inferred-reason", "A reason without the flag."),
            "/components/schemas/Order/x-inferred",
            id="reason-without-flag",
        ),
    ],
)
def test_inferred_checker_catches_a_missing_reason(edit: Edit, expected: str) -> None:
    """``x-inferred`` without a one-line reason (or a reason without the flag) is reported."""
    assert _pointers(cs.check_inferred(planted("openapi", edit))) == [expected]


@pytest.mark.parametrize(
    ("edit", "operation", "message"),
    [
        pytest.param(drop(f"{GET}/responses/401"), GET, "no 401", id="401"),
        pytest.param(drop(f"{GET}/responses/404"), GET, "no 404", id="404-with-path-param"),
        pytest.param(drop(f"{GET}/responses/422"), GET, "no 422", id="422"),
        pytest.param(drop(f"{POST}/responses/429"), POST, "no 429", id="429"),
        pytest.param(
            drop("/components/responses/RateLimited/headers/Retry-After"),
            POST,
            "429 has no Retry-After header",
            id="retry-after",
        ),
        pytest.param(drop(f"{GET}/responses/500"), GET, "no 5XX or default", id="5xx"),
        pytest.param(drop(f"{POST}/responses/default"), POST, "no 5XX or default", id="default"),
        pytest.param(
            drop(f"{MEDIA}/example"), POST, "request body has no example", id="request-example"
        ),
        pytest.param(
            drop(f"{GET_200}/examples"), GET, "200 JSON response has no example", id="2xx-example"
        ),
    ],
)
def test_response_checker_catches_an_undocumented_case(
    edit: Edit, operation: str, message: str
) -> None:
    """A missing error response, Retry-After header or body example is reported."""
    problems = cs.check_operation_responses(planted("openapi", edit), operation)
    assert [p.message.split(" (")[0] for p in problems] == [message]


def test_response_checker_skips_401_without_security() -> None:
    """An operation with ``security: []`` need not document 401."""
    spec = planted("openapi", drop(f"{GET}/responses/401"), put(f"{GET}/security", []))
    assert cs.check_operation_responses(spec, GET) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("a: 1\na: 2\n", "duplicate key 'a'", id="duplicate-key"),
        pytest.param("a: 2025-01-01T00:00:00Z\n", "datetime", id="unquoted-date-time"),
        pytest.param("on: 1\n", "not a string", id="yaml11-boolean-key"),
        pytest.param("a: yes\n", "boolean in YAML 1.1", id="yaml11-boolean-value"),
        pytest.param("200: {}\n", "not a string", id="integer-key"),
        pytest.param("a: [\n", "cannot parse", id="broken"),
    ],
)
def test_yaml_checker_catches_unportable_yaml(text: str, message: str) -> None:
    """YAML that tools would read differently (or not at all) is reported with its line."""
    problems = cs.load_text(text, "openapi", "mini.yaml").load_problems
    assert len(problems) == 1 and message in problems[0].message, _report(problems)


def test_yaml_loader_keeps_dates_as_strings() -> None:
    """Unquoted dates load as their text, so examples are validated as JSON would see them."""
    spec = cs.load_text("a: 2025-01-01T00:00:00Z\n200: x\n", "openapi", "mini.yaml")
    assert spec.doc == {"a": "2025-01-01T00:00:00Z", "200": "x"}


def _run_script(tmp_path: Path, openapi: dict[str, Any], asyncapi: dict[str, Any]) -> Any:
    (tmp_path / "o.yaml").write_text(yaml.safe_dump(openapi, sort_keys=False))
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(asyncapi, sort_keys=False))
    args = ["--openapi", str(tmp_path / "o.yaml"), "--asyncapi", str(tmp_path / "a.yaml")]
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False
    )


def test_script_exits_zero_on_clean_specs(tmp_path: Path) -> None:
    """``python scripts/check_specs.py`` exits 0 and says OK when nothing is wrong."""
    result = _run_script(tmp_path, MINI_OPENAPI, MINI_ASYNCAPI)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": OK") == 2


def test_script_exits_nonzero_and_names_the_pointer(tmp_path: Path) -> None:
    """The script exits 1 and prints each problem with its file and JSON pointer."""
    broken = planted("asyncapi", put("/operations/sendAsk/messages/0/$ref", "#/channels/in/x"))
    result = _run_script(tmp_path, MINI_OPENAPI, broken.doc)
    assert result.returncode == 1
    assert "a.yaml#/operations/sendAsk/messages/0/$ref: [channel]" in result.stdout
