"""Clients and handlers for the providers askpro talks to."""
