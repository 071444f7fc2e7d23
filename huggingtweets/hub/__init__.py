"""A local Hugging Face Hub server (``huggingtweets hub serve``).

The real ``huggingface_hub`` client and ``transformers`` talk to it through ``HF_ENDPOINT``,
unmodified: tests, the demo and offline CI push to it and load from it. No client version is
pinned: ``tests/test_hub_contract.py`` drives the installed client through every operation
huggingtweets and transformers use and fails on any request the server does not answer
(``HubServer.unknown_routes``), and CI runs the Hub tests again with the newest release.

Modules: ``server`` (HTTP layer, ``HubServer``), ``messages`` (Request/Response), ``routes`` (URL
routing), ``repos`` (repo loading, rights, revisions, path checks, pagination: what the endpoint
modules share), ``api`` (repo endpoints), ``tree`` (listings and history), ``transfer`` (preupload,
commit, LFS, downloads), ``ndjson`` (streaming commit body reader), ``storage`` (blobs and commit
history on disk), ``lfsaccess`` (who may name which LFS object), ``auth`` (tokens and rights),
``cards`` (README YAML header).
"""
