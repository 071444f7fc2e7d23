"""One handle type: every spelling of every network parsed once, keys and repo names valid for the Hub."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from huggingtweets.errors import InputError
from huggingtweets.sources.handles import Handle, is_valid_key, parse_handle, repo_name


@pytest.mark.parametrize(
    ("text", "network", "identifier", "instance", "key", "display"),
    [
        ("alice", "x", "alice", None, "alice", "@alice"),
        ("@Alice_B", "x", "Alice_B", None, "Alice_B", "@Alice_B"),
        ("x:alice", "x", "alice", None, "alice", "@alice"),
        (
            "bsky:alice.bsky.social",
            "bluesky",
            "alice.bsky.social",
            None,
            "alice.bsky.social",
            "@alice.bsky.social",
        ),
        (
            "Alice.BSKY.social",
            "bluesky",
            "alice.bsky.social",
            None,
            "alice.bsky.social",
            "@alice.bsky.social",
        ),
        (
            "bsky:alice.example.com",
            "bluesky",
            "alice.example.com",
            None,
            "alice.example.com",
            "@alice.example.com",
        ),
        (
            "did:plc:ferrypiltmarensolbergxa2",
            "bluesky",
            "did:plc:ferrypiltmarensolbergxa2",
            None,
            "did-plc-ferrypiltmarensolbergxa2",
            "did:plc:ferrypiltmarensolbergxa2",
        ),
        (
            "@alice@mastodon.social",
            "mastodon",
            "alice",
            "mastodon.social",
            "alice_at_mastodon.social",
            "@alice@mastodon.social",
        ),
        (
            "mastodon:alice@Fosstodon.org",
            "mastodon",
            "alice",
            "fosstodon.org",
            "alice_at_fosstodon.org",
            "@alice@fosstodon.org",
        ),
        (
            "alice@hachyderm.io",
            "mastodon",
            "alice",
            "hachyderm.io",
            "alice_at_hachyderm.io",
            "@alice@hachyderm.io",
        ),
    ],
)
def test_every_spelling(text, network, identifier, instance, key, display):
    handle = parse_handle(text)
    assert (handle.network, handle.identifier, handle.instance) == (network, identifier, instance)
    assert handle.key == key and handle.display == display
    assert parse_handle(handle.spec) == handle  # the unambiguous spelling reads back the same
    assert is_valid_key(handle.key)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("x..", "domain name"),  # issue 13: passed the publish pre-flight before
        ("alice/blog", "letters, digits"),
        ("bsky:-alice.bsky.social", "domain name"),
        ("bsky:alice", "domain name"),
        ("did:plc:short", "24 letters"),
        ("@alice@", "not a domain name"),
        ("mastodon:alice", "USER@INSTANCE"),
        ("@al ice@mastodon.social", "white space"),
        ("a" * 51, "letters, digits"),
        ("bsky:" + "a" * 64 + ".com", "domain name"),
    ],
)
def test_bad_handles_are_one_line_input_errors(text, why):
    with pytest.raises(InputError) as err:
        parse_handle(text)
    message = str(err.value)
    assert f"{text!r} is not a valid handle" in message and why in message and "\n" not in message


def test_keys_of_different_networks_never_collide():
    keys = {
        parse_handle(t).key
        for t in (
            "alice",
            "bsky:alice.social",
            "@alice@alice.social",
            "bsky:alice.alice.social",
            "bsky:alice-at-alice.social",
        )
    }
    assert len(keys) == 5


def test_repo_name_is_sorted_lowercase_and_bounded():
    assert (
        repo_name(["Zed", "alice_at_fosstodon.org", "bob.bsky.social"])
        == "alice_at_fosstodon.org-bob.bsky.social-zed"
    )
    long = [parse_handle(f"bsky:{'a' * 60}{i}.example.com").key for i in range(3)]
    name = repo_name(long)
    assert len(name) <= 96 and is_valid_key(name)
    assert name != repo_name(long[:2])  # the digest keeps different bots apart


def test_punycode_domains_get_a_hub_safe_key():
    handle = parse_handle("bsky:xn--bcher-kva.example")  # "--" is valid in DNS, not in a repo name
    assert "--" not in handle.key and is_valid_key(handle.key)
    assert handle.key != parse_handle("bsky:xn-bcher-kva.example").key


_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(_label, min_size=2, max_size=4), st.sampled_from(["bsky:", "", "mastodon:bob@", "@bob@"]))
def test_every_accepted_handle_has_a_valid_key(labels, prefix):
    text = prefix + ".".join(labels[:-1] + ["a" + labels[-1]])
    handle = parse_handle(text)
    assert is_valid_key(handle.key)
    assert is_valid_key(repo_name([handle.key, "alice"]))


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(max_size=80))
def test_any_text_is_a_handle_or_an_input_error(text):
    try:
        handle = parse_handle(text)
    except InputError as err:
        assert "\n" not in str(err)
        return
    assert isinstance(handle, Handle) and is_valid_key(handle.key)
