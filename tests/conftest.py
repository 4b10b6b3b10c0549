"""Shared fixtures. Tests talk to real servers on 127.0.0.1, started here or by the test."""

from __future__ import annotations
