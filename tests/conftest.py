"""Shared fixtures: a test server factory and config builders."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture
def openai_server():
    """Factory: start an OpenAIServer with the given options; stopped after the test."""
    from tests.support.openai_server import OpenAIServer

    started = []

    def start(**kwargs):
        server = OpenAIServer(**kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
