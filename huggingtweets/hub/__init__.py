"""A local Hugging Face Hub server (``huggingtweets hub serve``).

The real ``huggingface_hub`` client and ``transformers`` talk to it through ``HF_ENDPOINT``,
unmodified: tests, the demo and offline CI push to it and load from it. It was checked against
``huggingface_hub`` 2.4.x (see ``CHECKED_CLIENT_MINOR``); the wire contract is written down in
``HUB_PROTOCOL.md``.

Modules: ``server`` (HTTP layer, ``HubServer``), ``messages`` (Request/Response), ``routes`` (URL
routing), ``api`` (repo endpoints), ``tree`` (listings and history), ``transfer`` (preupload, commit,
LFS, downloads), ``ndjson`` (streaming commit body reader), ``storage`` (blobs and commit history on
disk), ``auth`` (tokens and rights), ``cards`` (README YAML header).
"""

# The client minor version whose wire protocol this server was checked against.
CHECKED_CLIENT_MINOR = "2.4"
