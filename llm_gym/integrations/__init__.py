"""Adapters for the trainers and servers people use: TRL, OpenEnv, verifiers, Ray and verl.

Each adapter is its own module and an optional extra; nothing here is imported by ``llm_gym``
itself, so a missing library costs nothing until its adapter is used.
"""
