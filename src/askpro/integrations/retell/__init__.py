"""Retell AI: the inbound-call answer and the agent's tool (function) endpoints."""
