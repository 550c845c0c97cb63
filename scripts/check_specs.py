#!/usr/bin/env python3
"""Check specs/openapi.yaml and specs/asyncapi.yaml beyond what their official schemas check.

Run ``python scripts/check_specs.py`` from anywhere (``--openapi``/``--asyncapi`` pick other
files): it prints one line per problem, ``file[:yaml-line]#/json/pointer: [check] message``, and
exits 1 when there is any. ``tests/unit/test_specs.py`` runs the same checks as tests.

Checks (each problem carries the check's name in brackets):

- ``yaml``: the YAML reads the same in every tool: no duplicate keys, no non-string keys, no
  unquoted dates or YAML 1.1 booleans such as ``on``/``yes`` (PyYAML turns those into
  ``datetime``/``bool``; JSON-Schema-based tools expect strings).
- ``openapi-schema``: openapi-spec-validator (OpenAPI 3.1).
- ``asyncapi-schema``: the official AsyncAPI 3.0.0 JSON Schema vendored in ``specs/vendor/``
  (Draft 7).
- ``ref``: every ``$ref`` is internal (``#/...``) and resolves, in both specs; so does every
  OpenAPI ``discriminator.mapping`` value.
- ``security``: every OpenAPI security requirement names a defined security scheme.
- ``channel``: every AsyncAPI operation's ``channel`` points into the root ``channels``, every
  message in its ``messages`` (and in its ``reply``) is one of that channel's messages, and each
  channel's address expressions and ``parameters`` match.
- ``example``: every example validates against its schema, ``$ref``s resolved against the whole
  document, formats (``date-time``, ``uuid``, ``int32``…) checked: OpenAPI schema-level
  ``example``/``examples``, media-type and parameter/header ``example``/``examples.*.value``
  (JSON Schema 2020-12); AsyncAPI message ``examples[].payload``/``headers`` and schema-level
  ``examples`` and ``default`` (Draft 7), channel parameter ``examples``/``default`` against
  ``enum``.
- ``inferred``: every ``x-inferred: true`` comes with a one-line ``x-inferred-reason``.
- ``responses``: every OpenAPI operation documents 401 (when it has security), 404 (when it has
  path parameters), 422, 429 with a ``Retry-After`` header, and a 5XX or ``default`` response;
  every request body and every 2xx JSON response body has at least one example.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import jsonschema
import yaml
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7, DRAFT202012

ROOT = Path(__file__).resolve().parent.parent
OPENAPI_PATH = ROOT / "specs" / "openapi.yaml"
ASYNCAPI_PATH = ROOT / "specs" / "asyncapi.yaml"
ASYNCAPI_SCHEMA_PATH = ROOT / "specs" / "vendor" / "asyncapi-3.0.0-without-id.json"

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Schema keywords whose value is one subschema, a list of them, or a map of them.
_ONE_SUBSCHEMA = (
    "additionalProperties",
    "additionalItems",
    "contains",
    "propertyNames",
    "not",
    "if",
    "then",
    "else",
    "unevaluatedProperties",
    "unevaluatedItems",
    "contentSchema",
)
_LIST_SUBSCHEMAS = ("allOf", "anyOf", "oneOf", "prefixItems")
_MAP_SUBSCHEMAS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
# AsyncAPI schemaFormats whose schemas are (a superset of) JSON Schema Draft 7.
_ASYNCAPI_DRAFT7_FORMATS = re.compile(
    r"^application/(vnd\.aai\.asyncapi(\+json|\+yaml)?;version=3\.0\.0"
    r"|schema\+(json|yaml);version=draft-07)$"
)
_MAX_MESSAGE = 300


@dataclass(frozen=True)
class Problem:
    """One failed check: the file, the JSON pointer (and YAML line) in it, which check, what."""

    file: str
    pointer: str
    check: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        line = f":{self.line}" if self.line is not None else ""
        return f"{self.file}{line}#{self.pointer}: [{self.check}] {self.message}"


@dataclass(eq=False)
class Spec:
    """A loaded spec: its display name, kind (``openapi``/``asyncapi``), document, load problems."""

    file: str
    kind: str
    doc: Any
    load_problems: list[Problem] = field(default_factory=list)
    _registry: Registry[Any] | None = field(default=None, repr=False)

    @property
    def uri(self) -> str:
        """The URI under which the whole document is registered for ``$ref`` resolution."""
        return f"urn:flxtrd-spec:{self.kind}"

    @property
    def dialect(self) -> type[jsonschema.protocols.Validator]:
        """The JSON Schema validator class for this spec's schemas."""
        if self.kind == "openapi":
            return jsonschema.Draft202012Validator
        return jsonschema.Draft7Validator

    @property
    def registry(self) -> Registry[Any]:
        """A registry holding the whole document, so ``#/...`` refs in its schemas resolve."""
        if self._registry is None:
            spec = DRAFT202012 if self.kind == "openapi" else DRAFT7
            resource = Resource(contents=self.doc, specification=spec)
            self._registry = Registry().with_resource(self.uri, resource)
        return self._registry


@dataclass(eq=False)
class ExampleCase:
    """One example value and the schema it must satisfy."""

    spec: Spec
    pointer: str
    instance: Any
    schema: Any
    schema_label: str
    via: str = ""

    @property
    def id(self) -> str:
        """A readable test id: file and pointer of the example."""
        return f"{self.spec.file}#{self.pointer}"


# --------------------------------------------------------------------------- JSON pointers


def escape(segment: object) -> str:
    """Escape one JSON pointer segment (RFC 6901)."""
    return str(segment).replace("~", "~0").replace("/", "~1")


def join(pointer: str, *segments: object) -> str:
    """Append segments to a JSON pointer."""
    return pointer + "".join("/" + escape(s) for s in segments)


def resolve_pointer(doc: Any, pointer: str) -> Any:
    """Return the value at a JSON pointer, or raise LookupError naming the missing segment."""
    if pointer == "":
        return doc
    if not pointer.startswith("/"):
        raise LookupError(f"pointer {pointer!r} does not start with '/'")
    node = doc
    walked = ""
    for raw in pointer[1:].split("/"):
        segment = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and segment in node:
            node = node[segment]
        elif isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
            node = node[int(segment)]
        else:
            have = ", ".join(sorted(map(str, node))) if isinstance(node, dict) else ""
            hint = f" (it has: {have})" if have and len(have) < 200 else ""
            raise LookupError(f"nothing at {raw!r} under {walked or '/'}{hint}")
        walked += "/" + raw
    return node


def resolve_ref(doc: Any, ref: str) -> Any:
    """Resolve an internal ``#/...`` reference, or raise LookupError."""
    if not ref.startswith("#"):
        raise LookupError(f"external reference {ref!r} (specs must be self-contained)")
    return resolve_pointer(doc, unquote(ref[1:]))


def deref(doc: Any, node: Any, pointer: str) -> tuple[Any, str] | None:
    """Follow a chain of Reference Objects; return (target, its pointer) or None if dangling."""
    seen: set[str] = set()
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if ref in seen or not ref.startswith("#"):
            return None
        seen.add(ref)
        try:
            node = resolve_ref(doc, ref)
        except LookupError:
            return None
        pointer = unquote(ref[1:])
    return node, pointer


def walk(node: Any, pointer: str = "") -> Iterator[tuple[dict[str, Any], str]]:
    """Yield every mapping in a document with its JSON pointer."""
    if isinstance(node, dict):
        yield node, pointer
        for key, value in node.items():
            yield from walk(value, join(pointer, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, join(pointer, index))


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


# --------------------------------------------------------------------------- loading + yaml


class _SpecLoader(yaml.SafeLoader):
    """SafeLoader that keeps timestamps as their text and turns scalar keys into strings."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        return {k if isinstance(k, str) else _key_text(k): v for k, v in mapping.items()}


def _key_text(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return "null" if key is None else str(key)


_SpecLoader.add_constructor(
    "tag:yaml.org,2002:timestamp",
    lambda loader, node: loader.construct_scalar(node),
)

_STR_TAG = "tag:yaml.org,2002:str"
_YAML11_BOOLS = {"true", "false"}


def _yaml_lint(node: yaml.Node, pointer: str, file: str) -> Iterator[Problem]:
    """Find YAML that PyYAML-based tools would read differently from a JSON/YAML 1.2 reader."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
            at = join(pointer, key)
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _STR_TAG:
                yield Problem(file, at, "yaml", f"key {key!r} is not a string; quote it", line)
            if key in seen:
                yield Problem(
                    file, at, "yaml", f"duplicate key {key!r} (first at line {seen[key]})", line
                )
            seen.setdefault(key, line)
            yield from _yaml_lint(value_node, at, file)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _yaml_lint(item, join(pointer, index), file)
    elif isinstance(node, yaml.ScalarNode) and not node.style:
        line = node.start_mark.line + 1
        if node.tag == "tag:yaml.org,2002:timestamp":
            message = f"unquoted {node.value!r} is read as a datetime by PyYAML; quote it"
            yield Problem(file, pointer, "yaml", message, line)
        elif node.tag == "tag:yaml.org,2002:bool" and node.value.lower() not in _YAML11_BOOLS:
            message = (
                f"unquoted {node.value!r} is a boolean in YAML 1.1; quote it or use true/false"
            )
            yield Problem(file, pointer, "yaml", message, line)


def load_text(text: str, kind: str, file: str) -> Spec:
    """Parse YAML (or JSON) text into a Spec, collecting YAML hygiene problems."""
    loader = _SpecLoader(text)
    try:
        node = loader.get_single_node()
        problems = list(_yaml_lint(node, "", file)) if node is not None else []
        doc = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        return Spec(file, kind, None, [Problem(file, "", "yaml", _short(f"cannot parse: {exc}"))])
    finally:
        loader.dispose()
    if not isinstance(doc, dict):
        problems.append(Problem(file, "", "yaml", "the document is not a mapping"))
        doc = None
    return Spec(file, kind, doc, problems)


def load_spec(path: Path, kind: str, file: str | None = None) -> Spec:
    """Load a spec file; a missing or unreadable file becomes a load problem."""
    name = file or _display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return Spec(name, kind, None, [Problem(name, "", "yaml", f"cannot read: {exc}")])
    return load_text(text, kind, name)


def spec_from_dict(doc: dict[str, Any], kind: str, file: str = "<memory>") -> Spec:
    """Wrap an in-memory document as a Spec (used by tests)."""
    return Spec(file, kind, doc)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- official schemas


def check_openapi_schema(spec: Spec) -> list[Problem]:
    """Validate an OpenAPI 3.1 document with openapi-spec-validator, reporting every error."""
    from openapi_spec_validator import OpenAPIV31SpecValidator

    if spec.doc is None:
        return []
    problems = []
    errors = OpenAPIV31SpecValidator(spec.doc).iter_errors()
    while True:
        try:
            error = next(errors)
        except StopIteration:
            break
        except Exception as exc:  # it raises, e.g. PointerToNowhere, on a dangling $ref
            what = f"$ref {exc.ref!r}" if hasattr(exc, "ref") else f"{type(exc).__name__}: {exc}"
            message = f"openapi-spec-validator stopped early at {what}"
            problems.append(Problem(spec.file, "", "openapi-schema", _short(message)))
            break
        relevant = best_match([error]) if error.context else error
        path = getattr(relevant, "absolute_path", None) or ()
        problems.append(
            Problem(spec.file, join("", *path), "openapi-schema", _short(relevant.message))
        )
    return problems


def asyncapi_schema() -> dict[str, Any]:
    """The vendored official AsyncAPI 3.0.0 JSON Schema."""
    schema: dict[str, Any] = json.loads(ASYNCAPI_SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def check_asyncapi_schema(spec: Spec, schema: dict[str, Any] | None = None) -> list[Problem]:
    """Validate an AsyncAPI 3.0 document against the official JSON Schema (Draft 7)."""
    if spec.doc is None:
        return []
    schema = schema if schema is not None else asyncapi_schema()
    validator_cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    validator = validator_cls(schema, format_checker=validator_cls.FORMAT_CHECKER)
    problems = []
    for error in validator.iter_errors(spec.doc):
        relevant = best_match([error])
        problems.append(
            Problem(
                spec.file,
                join("", *relevant.absolute_path),
                "asyncapi-schema",
                _short(relevant.message),
            )
        )
    return sorted(problems, key=lambda p: p.pointer)


# --------------------------------------------------------------------------- refs


def check_refs(spec: Spec) -> list[Problem]:
    """Every ``$ref`` string is internal and resolves to something in the document."""
    if spec.doc is None:
        return []
    problems = []
    for node, pointer in walk(spec.doc):
        ref = node.get("$ref")
        if not isinstance(ref, str):
            continue
        try:
            resolve_ref(spec.doc, ref)
        except LookupError as exc:
            problems.append(
                Problem(
                    spec.file, join(pointer, "$ref"), "ref", f"$ref {ref!r} does not resolve: {exc}"
                )
            )
    if spec.kind == "openapi":
        problems += _discriminator_mappings(spec)
    return problems


def _discriminator_mappings(spec: Spec) -> Iterator[Problem]:
    """OpenAPI ``discriminator.mapping`` values are refs or schema names; each must exist."""
    components = spec.doc.get("components")
    schemas = components.get("schemas") if isinstance(components, dict) else None
    names = schemas if isinstance(schemas, dict) else {}
    for node, pointer in walk(spec.doc):
        discriminator = node.get("discriminator")
        if not isinstance(discriminator, dict):
            continue
        for key, target in _items(discriminator.get("mapping")):
            at = join(pointer, "discriminator", "mapping", key)
            if not isinstance(target, str):
                continue
            if target.startswith("#"):
                try:
                    resolve_ref(spec.doc, target)
                except LookupError as exc:
                    yield Problem(
                        spec.file, at, "ref", f"mapping {target!r} does not resolve: {exc}"
                    )
            elif "/" not in target and target not in names:
                yield Problem(
                    spec.file, at, "ref", f"mapping {target!r} is not a schema in components"
                )


def check_security(spec: Spec) -> list[Problem]:
    """Every OpenAPI security requirement names a scheme in ``components.securitySchemes``."""
    if spec.doc is None:
        return []
    components = spec.doc.get("components")
    schemes = components.get("securitySchemes") if isinstance(components, dict) else None
    known = set(schemes) if isinstance(schemes, dict) else set()
    places = [("/security", spec.doc.get("security"))]
    for pointer in openapi_operations(spec):
        operation = _operation_at(spec, pointer)[1]
        places.append((join(pointer, "security"), operation.get("security")))
    problems = []
    for pointer, requirements in places:
        for index, requirement in enumerate(_list(requirements)):
            for name in requirement if isinstance(requirement, dict) else ():
                if name not in known:
                    problems.append(
                        Problem(
                            spec.file,
                            join(pointer, index, name),
                            "security",
                            f"security scheme {name!r} is not in components.securitySchemes"
                            f" (it has: {', '.join(sorted(known)) or 'none'})",
                        )
                    )
    return problems


# --------------------------------------------------------------------------- asyncapi channels


def asyncapi_operation_names(spec: Spec) -> list[str]:
    """Names of the root operations of an AsyncAPI document."""
    if spec.doc is None or not isinstance(spec.doc.get("operations"), dict):
        return []
    return list(spec.doc["operations"])


def _channel_ref(
    spec: Spec, owner: dict[str, Any], pointer: str, root_only: bool
) -> tuple[str, dict[str, Any]] | Problem:
    """Resolve ``owner.channel`` to (ref, channel object), or a Problem saying why not."""
    channel = owner.get("channel")
    where = join(pointer, "channel")
    ref = channel.get("$ref") if isinstance(channel, dict) else None
    if not isinstance(ref, str):
        return Problem(spec.file, where, "channel", "channel must be a $ref to a channel")
    if root_only and not re.fullmatch(r"#/channels/[^/]+", ref):
        return Problem(
            spec.file,
            where,
            "channel",
            f"channel $ref {ref!r} must point into the root channels (#/channels/<name>)",
        )
    target = deref(spec.doc, channel, where)
    if target is None or not isinstance(target[0], dict):
        return Problem(spec.file, where, "channel", f"channel {ref!r} does not exist")
    return ref, target[0]


def _messages_in_channel(
    spec: Spec, owner: dict[str, Any], pointer: str, channel_ref: str, channel: dict[str, Any]
) -> Iterator[Problem]:
    """Each message $ref in ``owner.messages`` names a message of the channel at channel_ref."""
    messages = owner.get("messages")
    if not isinstance(messages, list):
        return
    available: dict[str, Any] = dict(_items(channel.get("messages")))
    names = ", ".join(available) or "none"
    prefix = channel_ref + "/messages/"
    for index, message in enumerate(messages):
        where = join(pointer, "messages", index)
        ref = message.get("$ref") if isinstance(message, dict) else None
        if not isinstance(ref, str):
            yield Problem(spec.file, where, "channel", "operation message must be a $ref")
            continue
        name = ref[len(prefix) :] if ref.startswith(prefix) else None
        if name is None or "/" in name:
            yield Problem(
                spec.file,
                join(where, "$ref"),
                "channel",
                f"message {ref!r} is not one of channel {channel_ref!r}'s messages "
                f"(expected {prefix}<name>; the channel has: {names})",
            )
        elif unquote(name).replace("~1", "/").replace("~0", "~") not in available:
            yield Problem(
                spec.file,
                join(where, "$ref"),
                "channel",
                f"channel {channel_ref!r} has no message {name!r} (it has: {names})",
            )


def check_operation(spec: Spec, name: str) -> list[Problem]:
    """One AsyncAPI operation: its channel is a root channel and its messages are that channel's."""
    pointer = join("/operations", name)
    found = deref(spec.doc, spec.doc["operations"][name], pointer)
    if found is None or not isinstance(found[0], dict):
        return [Problem(spec.file, pointer, "channel", "operation $ref does not resolve")]
    operation = found[0]
    problems: list[Problem] = []
    resolved = _channel_ref(spec, operation, pointer, root_only=True)
    if isinstance(resolved, Problem):
        problems.append(resolved)
    else:
        problems += _messages_in_channel(spec, operation, pointer, *resolved)
    reply = operation.get("reply")
    if isinstance(reply, dict):
        reply_pointer = join(pointer, "reply")
        found_reply = deref(spec.doc, reply, reply_pointer)
        if found_reply is None or not isinstance(found_reply[0], dict):
            problems.append(Problem(spec.file, reply_pointer, "channel", "reply does not resolve"))
        elif "channel" in found_reply[0]:
            reply_obj, reply_at = found_reply
            resolved = _channel_ref(spec, reply_obj, reply_at, root_only=False)
            if isinstance(resolved, Problem):
                problems.append(resolved)
            else:
                problems += _messages_in_channel(spec, reply_obj, reply_at, *resolved)
    return problems


def check_channel_parameters(spec: Spec) -> list[Problem]:
    """Each channel's ``{expressions}`` in its address and its ``parameters`` keys match."""
    problems: list[Problem] = []
    groups = [("/channels", spec.doc.get("channels"))]
    components = spec.doc.get("components")
    if isinstance(components, dict):
        groups.append(("/components/channels", components.get("channels")))
    for base, channels in groups:
        for name, channel in (channels or {}).items():
            if not isinstance(channel, dict) or "$ref" in channel:
                continue
            address = channel.get("address")
            in_address = (
                set(re.findall(r"{([^}]+)}", address)) if isinstance(address, str) else set()
            )
            params = channel.get("parameters")
            declared = set(params) if isinstance(params, dict) else set()
            where = join(base, name)
            for missing in sorted(in_address - declared):
                problems.append(
                    Problem(
                        spec.file,
                        join(where, "address"),
                        "channel",
                        f"address expression {{{missing}}} has no entry in parameters",
                    )
                )
            for extra in sorted(declared - in_address):
                problems.append(
                    Problem(
                        spec.file,
                        join(where, "parameters", extra),
                        "channel",
                        f"parameter {extra!r} does not appear in the address {address!r}",
                    )
                )
    return problems


def check_operation_channels(spec: Spec) -> list[Problem]:
    """All AsyncAPI operations and channels: the checks the official schema misses."""
    if spec.doc is None:
        return []
    problems: list[Problem] = []
    for name in asyncapi_operation_names(spec):
        problems += check_operation(spec, name)
    return problems + check_channel_parameters(spec)


# --------------------------------------------------------------------------- examples


def _ref_schema(spec: Spec, pointer: str) -> dict[str, str]:
    return {"$ref": spec.uri + "#" + quote(pointer, safe="/~!$&'()*+,;=:@")}


class _Collector:
    """Walks a spec and gathers every example with the schema it must satisfy."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.cases: list[ExampleCase] = []
        self.problems: list[Problem] = []

    def add(self, pointer: str, instance: Any, schema_pointer: str, via: str = "") -> None:
        schema = _ref_schema(self.spec, schema_pointer)
        self.cases.append(
            ExampleCase(self.spec, pointer, instance, schema, f"#{schema_pointer}", via)
        )

    # JSON Schema (both dialects) ------------------------------------------------------------
    def schema(self, node: Any, pointer: str) -> None:
        """Collect schema-level ``example``/``examples`` from a schema and its inline subschemas."""
        if not isinstance(node, dict):
            return
        if "example" in node:
            self.add(join(pointer, "example"), node["example"], pointer)
        if "default" in node and self.spec.kind == "asyncapi":  # openapi-spec-validator does OAS
            self.add(join(pointer, "default"), node["default"], pointer)
        examples = node.get("examples")
        if isinstance(examples, list):
            for index, value in enumerate(examples):
                self.add(join(pointer, "examples", index), value, pointer)
        elif examples is not None:
            self.problems.append(
                Problem(
                    self.spec.file,
                    join(pointer, "examples"),
                    "example",
                    "schema-level examples must be an array of values",
                )
            )
        for key in _ONE_SUBSCHEMA:
            self.schema(node.get(key), join(pointer, key))
        items = node.get("items")
        if isinstance(items, list):
            for index, sub in enumerate(items):
                self.schema(sub, join(pointer, "items", index))
        else:
            self.schema(items, join(pointer, "items"))
        for key in _LIST_SUBSCHEMAS:
            if isinstance(node.get(key), list):
                for index, sub in enumerate(node[key]):
                    self.schema(sub, join(pointer, key, index))
        for key in (*_MAP_SUBSCHEMAS, "dependencies"):
            if isinstance(node.get(key), dict):
                for name, sub in node[key].items():
                    self.schema(sub, join(pointer, key, name))

    # OpenAPI --------------------------------------------------------------------------------
    def openapi(self) -> None:
        doc = self.spec.doc
        for section in ("paths", "webhooks"):
            for key, item in _items(doc.get(section)):
                self.path_item(item, join("", section, key))
        components = doc.get("components") if isinstance(doc.get("components"), dict) else {}
        handlers: dict[str, Callable[[Any, str], None]] = {
            "schemas": self.schema,
            "parameters": self.parameter,
            "headers": self.parameter,
            "requestBodies": self.body,
            "responses": self.response,
            "pathItems": self.path_item,
        }
        for section, handler in handlers.items():
            for key, item in _items(components.get(section)):
                handler(item, join("/components", section, key))
        for key, callback in _items(components.get("callbacks")):
            for expression, item in _items(callback):
                self.path_item(item, join("/components/callbacks", key, expression))

    def path_item(self, item: Any, pointer: str) -> None:
        if not isinstance(item, dict) or "$ref" in item:
            return
        for index, parameter in enumerate(_list(item.get("parameters"))):
            self.parameter(parameter, join(pointer, "parameters", index))
        for method in HTTP_METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            at = join(pointer, method)
            for index, parameter in enumerate(_list(operation.get("parameters"))):
                self.parameter(parameter, join(at, "parameters", index))
            self.body(operation.get("requestBody"), join(at, "requestBody"))
            for code, response in _items(operation.get("responses")):
                self.response(response, join(at, "responses", code))
            for key, callback in _items(operation.get("callbacks")):
                for expression, sub in _items(callback):
                    self.path_item(sub, join(at, "callbacks", key, expression))

    def parameter(self, parameter: Any, pointer: str) -> None:
        """Parameter or header: examples against its ``schema`` (or its single content schema)."""
        if not isinstance(parameter, dict) or "$ref" in parameter:
            return
        schema_pointer = None
        if "schema" in parameter:
            schema_pointer = join(pointer, "schema")
            self.schema(parameter["schema"], schema_pointer)
        elif isinstance(parameter.get("content"), dict):
            self.content(parameter["content"], join(pointer, "content"))
            media = [k for k, v in parameter["content"].items() if isinstance(v, dict)]
            if len(media) == 1 and "schema" in parameter["content"][media[0]]:
                schema_pointer = join(pointer, "content", media[0], "schema")
        if schema_pointer is not None:
            self.example_pair(parameter, pointer, schema_pointer)

    def body(self, body: Any, pointer: str) -> None:
        if isinstance(body, dict) and "$ref" not in body:
            self.content(body.get("content"), join(pointer, "content"))

    def response(self, response: Any, pointer: str) -> None:
        if not isinstance(response, dict) or "$ref" in response:
            return
        for name, header in _items(response.get("headers")):
            self.parameter(header, join(pointer, "headers", name))
        self.content(response.get("content"), join(pointer, "content"))

    def content(self, content: Any, pointer: str) -> None:
        for media_type, media in _items(content):
            if not isinstance(media, dict):
                continue
            at = join(pointer, media_type)
            if "schema" in media:
                self.schema(media["schema"], join(at, "schema"))
                self.example_pair(media, at, join(at, "schema"))

    def example_pair(self, owner: dict[str, Any], pointer: str, schema_pointer: str) -> None:
        """``example`` and ``examples.<name>.value`` of a media type, parameter or header."""
        if "example" in owner:
            self.add(join(pointer, "example"), owner["example"], schema_pointer)
        for name, example in _items(owner.get("examples")):
            at = join(pointer, "examples", name)
            found = deref(self.spec.doc, example, at)
            if found is None:
                continue  # reported by check_refs
            target, target_pointer = found
            if isinstance(target, dict) and "value" in target:
                via = f"#{target_pointer}/value" if target_pointer != at else ""
                self.add(join(at, "value"), target["value"], schema_pointer, via)

    # AsyncAPI -------------------------------------------------------------------------------
    def asyncapi(self) -> None:
        doc = self.spec.doc
        components = doc.get("components") if isinstance(doc.get("components"), dict) else {}
        for base, channels in (
            ("/channels", doc.get("channels")),
            ("/components/channels", components.get("channels")),
        ):
            for name, channel in _items(channels):
                if not isinstance(channel, dict) or "$ref" in channel:
                    continue
                at = join(base, name)
                for message_name, message in _items(channel.get("messages")):
                    self.message(message, join(at, "messages", message_name))
                for param_name, param in _items(channel.get("parameters")):
                    self.channel_parameter(param, join(at, "parameters", param_name))
        for name, message in _items(components.get("messages")):
            self.message(message, join("/components/messages", name))
        for name, schema in _items(components.get("schemas")):
            target = self.async_schema_pointer(schema, join("/components/schemas", name))
            if target is not None:
                self.schema(resolve_pointer(doc, target), target)
        for name, param in _items(components.get("parameters")):
            self.channel_parameter(param, join("/components/parameters", name))
        for name, trait in _items(components.get("messageTraits")):
            if isinstance(trait, dict) and "$ref" not in trait:
                at = join("/components/messageTraits", name)
                target = self.async_schema_pointer(trait.get("headers"), join(at, "headers"))
                if target is not None:
                    self.schema(resolve_pointer(doc, target), target)

    def async_schema_pointer(self, node: Any, pointer: str) -> str | None:
        """Pointer of the Draft 7 schema in a payload/headers/schema slot, or None if not one."""
        if not isinstance(node, (dict, bool)):
            return None
        if isinstance(node, dict) and "schemaFormat" in node:
            if not _ASYNCAPI_DRAFT7_FORMATS.match(str(node["schemaFormat"]).replace(" ", "")):
                return None  # Avro, RAML, OpenAPI schemas are not validated here
            return join(pointer, "schema") if "schema" in node else None
        return pointer

    def message(self, message: Any, pointer: str) -> None:
        if not isinstance(message, dict) or "$ref" in message:
            return
        slots: dict[str, str | None] = {}
        for slot in ("payload", "headers"):
            target = self.async_schema_pointer(message.get(slot), join(pointer, slot))
            if target is not None:
                self.schema(resolve_pointer(self.spec.doc, target), target)
            slots[slot] = target
        if slots["headers"] is None:
            slots["headers"] = self.trait_headers(message, pointer)
        for index, example in enumerate(_list(message.get("examples"))):
            if not isinstance(example, dict):
                continue
            at = join(pointer, "examples", index)
            for slot in ("payload", "headers"):
                schema_pointer = slots[slot]
                if slot in example and schema_pointer is not None:
                    self.add(join(at, slot), example[slot], schema_pointer)

    def trait_headers(self, message: dict[str, Any], pointer: str) -> str | None:
        """Pointer of the headers schema a message gets from its traits, if any."""
        for index, trait in enumerate(_list(message.get("traits"))):
            found = deref(self.spec.doc, trait, join(pointer, "traits", index))
            if found is not None and isinstance(found[0], dict) and "headers" in found[0]:
                return self.async_schema_pointer(found[0]["headers"], join(found[1], "headers"))
        return None

    def channel_parameter(self, param: Any, pointer: str) -> None:
        """AsyncAPI 3.0 parameters: ``examples`` and ``default`` are strings within ``enum``."""
        if not isinstance(param, dict) or "$ref" in param:
            return
        schema: dict[str, Any] = {"type": "string"}
        if isinstance(param.get("enum"), list):
            schema["enum"] = param["enum"]
        label = f"#{join(pointer, 'enum')}" if "enum" in schema else "a string"
        values = [
            (join(pointer, "examples", i), v) for i, v in enumerate(_list(param.get("examples")))
        ]
        if "default" in param:
            values.append((join(pointer, "default"), param["default"]))
        for at, value in values:
            self.cases.append(ExampleCase(self.spec, at, value, schema, label))


def _items(node: Any) -> list[tuple[str, Any]]:
    return list(node.items()) if isinstance(node, dict) else []


def _list(node: Any) -> list[Any]:
    return node if isinstance(node, list) else []


def collect_examples(spec: Spec) -> tuple[list[ExampleCase], list[Problem]]:
    """Every example in a spec with its schema, plus problems found while collecting."""
    if spec.doc is None:
        return [], []
    collector = _Collector(spec)
    if spec.kind == "openapi":
        collector.openapi()
    else:
        collector.asyncapi()
    return collector.cases, collector.problems


def _format_checker() -> jsonschema.FormatChecker:
    checker = copy.deepcopy(jsonschema.Draft202012Validator.FORMAT_CHECKER)
    if "date-time" not in checker.checkers:  # rfc3339-validator missing: check it ourselves

        @checker.checks("date-time", raises=ValueError)
        def _date_time(instance: object) -> bool:
            if not isinstance(instance, str):
                return True
            if not re.fullmatch(
                r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)", instance
            ):
                return False
            datetime.fromisoformat(re.sub(r"[Zz]$", "+00:00", instance.upper()))
            return True

    for name, bits in (("int32", 32), ("int64", 64)):

        def _in_range(instance: object, bits: int = bits) -> bool:
            if not isinstance(instance, int) or isinstance(instance, bool):
                return True
            return -(2 ** (bits - 1)) <= instance < 2 ** (bits - 1)

        checker.checks(name)(_in_range)
    return checker


FORMAT_CHECKER = _format_checker()


def check_example(case: ExampleCase) -> list[Problem]:
    """Validate one example against its schema; one problem per (deepest) error."""
    validator = case.spec.dialect(
        case.schema, registry=case.spec.registry, format_checker=FORMAT_CHECKER
    )
    problems = []
    via = f"; example defined at {case.via}" if case.via else ""
    try:
        errors = list(validator.iter_errors(case.instance))
    except Exception as exc:  # an unresolvable $ref inside the schema, a bad regex…
        return [
            Problem(
                case.spec.file,
                case.pointer,
                "example",
                _short(f"cannot validate against {case.schema_label}: {exc}"),
            )
        ]
    for error in errors:
        relevant: ValidationError = best_match([error])
        problems.append(
            Problem(
                case.spec.file,
                join(case.pointer, *relevant.absolute_path),
                "example",
                _short(f"{relevant.message} (schema {case.schema_label}{via})"),
            )
        )
    return problems


def check_examples(spec: Spec) -> list[Problem]:
    """All examples of a spec."""
    cases, problems = collect_examples(spec)
    for case in cases:
        problems += check_example(case)
    return problems


# --------------------------------------------------------------------------- x-inferred


def check_inferred(spec: Spec) -> list[Problem]:
    """``x-inferred: true`` and a one-line ``x-inferred-reason`` always come together."""
    if spec.doc is None:
        return []
    problems = []
    for node, pointer in walk(spec.doc):
        if "x-inferred" not in node and "x-inferred-reason" not in node:
            continue
        flag, reason = node.get("x-inferred"), node.get("x-inferred-reason")
        if flag is not True:
            problems.append(
                Problem(
                    spec.file,
                    join(pointer, "x-inferred"),
                    "inferred",
                    f"x-inferred must be true when present (got {flag!r})",
                )
            )
        if not isinstance(reason, str) or not reason.strip():
            problems.append(
                Problem(
                    spec.file,
                    pointer,
                    "inferred",
                    "x-inferred: true needs a non-empty x-inferred-reason string",
                )
            )
        elif "\n" in reason.strip():
            problems.append(
                Problem(
                    spec.file,
                    join(pointer, "x-inferred-reason"),
                    "inferred",
                    "x-inferred-reason must be one line",
                )
            )
    return problems


# --------------------------------------------------------------------------- responses


def openapi_operations(spec: Spec) -> list[str]:
    """JSON pointers of every operation under ``paths`` (e.g. ``/paths/~1deals~1/get``)."""
    if spec.doc is None:
        return []
    found = []
    for path, item in _items(spec.doc.get("paths")):
        resolved = deref(spec.doc, item, join("/paths", path))
        if resolved is None or not isinstance(resolved[0], dict):
            continue
        for method in HTTP_METHODS:
            if isinstance(resolved[0].get(method), dict):
                found.append(join("/paths", path, method))
    return found


def _operation_at(spec: Spec, pointer: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (path item, operation) named by a pointer from ``openapi_operations``."""
    item_pointer, method = pointer.rsplit("/", 1)
    found = deref(spec.doc, resolve_pointer(spec.doc, item_pointer), item_pointer)
    item: dict[str, Any] = found[0] if found else {}
    return item, item[method]


def _is_json(media_type: str) -> bool:
    base = media_type.split(";")[0].strip().lower()
    return base == "application/json" or base.endswith("+json")


def _has_example(spec: Spec, media: dict[str, Any], pointer: str) -> bool:
    """A media type has an example itself or on its (referenced) top-level schema."""
    if "example" in media or media.get("examples"):
        return True
    found = deref(spec.doc, media.get("schema"), join(pointer, "schema"))
    schema = found[0] if found else None
    return isinstance(schema, dict) and bool(schema.get("examples") or "example" in schema)


def _media_without_example(
    spec: Spec, owner: Any, pointer: str, what: str, json_only: bool
) -> Iterator[Problem]:
    """Problems for media types of a (referenced) body or response that lack an example."""
    found = deref(spec.doc, owner, pointer)
    if found is None or not isinstance(found[0], dict):
        return
    for media_type, media in _items(found[0].get("content")):
        at = join(found[1], "content", media_type)
        if json_only and not _is_json(media_type):
            continue
        if isinstance(media, dict) and not _has_example(spec, media, at):
            yield Problem(spec.file, at, "responses", f"{what} has no example")


def check_operation_responses(spec: Spec, pointer: str) -> list[Problem]:
    """One OpenAPI operation documents its error responses and has example bodies."""
    doc = spec.doc
    item, operation = _operation_at(spec, pointer)
    responses = {str(code).upper(): (code, r) for code, r in _items(operation.get("responses"))}
    at_responses = join(pointer, "responses")
    problems = []

    def require(code: str, why: str = "") -> None:
        if code not in responses:
            problems.append(Problem(spec.file, at_responses, "responses", f"no {code}{why}"))

    security = operation.get("security", doc.get("security", []))
    if any(requirement for requirement in _list(security)):
        require("401", " (the operation has security)")
    parameters = _list(item.get("parameters")) + _list(operation.get("parameters"))
    resolved = [deref(doc, p, pointer) for p in parameters]
    if any(r and isinstance(r[0], dict) and r[0].get("in") == "path" for r in resolved):
        require("404", " (the operation has path parameters)")
    require("422")
    require("429")
    if "429" in responses:
        key, response = responses["429"]
        at = join(at_responses, key)
        target = deref(doc, response, at)
        headers = target[0].get("headers") if target and isinstance(target[0], dict) else None
        if "retry-after" not in {str(name).lower() for name, _ in _items(headers)}:
            problems.append(Problem(spec.file, at, "responses", "429 has no Retry-After header"))
    if not any(code.startswith("5") for code in responses) and "DEFAULT" not in responses:
        problems.append(Problem(spec.file, at_responses, "responses", "no 5XX or default"))
    if "requestBody" in operation:
        problems += _media_without_example(
            spec, operation["requestBody"], join(pointer, "requestBody"), "request body", False
        )
    for code, (key, response) in responses.items():
        if re.fullmatch(r"2(\d\d|XX)", code):
            at = join(at_responses, key)
            problems += _media_without_example(spec, response, at, f"{key} JSON response", True)
    return problems


def check_responses(spec: Spec) -> list[Problem]:
    """All OpenAPI operations: documented error responses and example bodies."""
    problems: list[Problem] = []
    for pointer in openapi_operations(spec):
        problems += check_operation_responses(spec, pointer)
    return problems


# --------------------------------------------------------------------------- all together


def check_spec(spec: Spec) -> list[Problem]:
    """Every check that applies to one spec."""
    problems = list(spec.load_problems)
    if spec.doc is None:
        return problems
    if spec.kind == "openapi":
        problems += check_openapi_schema(spec)
    else:
        problems += check_asyncapi_schema(spec)
        problems += check_operation_channels(spec)
    problems += check_refs(spec)
    problems += check_examples(spec)
    problems += check_inferred(spec)
    if spec.kind == "openapi":
        problems += check_security(spec)
        problems += check_responses(spec)
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Check both specs; print the problems; return 1 if there are any."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--openapi", type=Path, default=OPENAPI_PATH, help="OpenAPI 3.1 file")
    parser.add_argument("--asyncapi", type=Path, default=ASYNCAPI_PATH, help="AsyncAPI 3.0 file")
    args = parser.parse_args(argv)
    total = 0
    for path, kind in ((args.openapi, "openapi"), (args.asyncapi, "asyncapi")):
        spec = load_spec(path, kind)
        problems = check_spec(spec)
        examples = len(collect_examples(spec)[0])
        total += len(problems)
        status = f"{len(problems)} problem(s)" if problems else "OK"
        print(f"{spec.file}: {status} ({examples} examples checked)")
        for problem in problems:
            print(f"  {problem}")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
