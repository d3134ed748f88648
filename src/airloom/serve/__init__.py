"""``airloom serve``: an OpenAI-compatible server for airoboros models and LMoE experts.

* :mod:`~airloom.formats.openai_wire` — the OpenAI request/response schema (shared with the client);
* :mod:`~airloom.serve.config` — ``serve.yaml``;
* :mod:`~airloom.serve.engines` — the engines (``peft``, ``local``, ``vllm``);
* :mod:`~airloom.serve.router` — expert routing (embedding, agent, explicit);
* :mod:`~airloom.serve.service` — routing, admission and generation, independent of HTTP;
* :mod:`~airloom.serve.app` — the HTTP application.
"""
