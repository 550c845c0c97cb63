# Generated from specs/asyncapi.yaml by datamodel-code-generator 0.89.0; do not edit.
# Change the spec, its generator config or a template in specs/; `make regenerate`.
"""Typed GLocalFlex market messages: AMQP orders and replies, WebSocket events."""
