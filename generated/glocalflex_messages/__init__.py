# Generated from specs/asyncapi.yaml by datamodel-code-generator 0.89.0; do not edit.
# Change the spec, the generator config or a template in specs/ and run `make regenerate`.
"""Typed GLocalFlex market messages (AMQP replies, orders, WebSocket events)."""
