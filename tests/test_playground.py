"""The playground ("try any bot") against the local Hub: posts, the card's profile, who may see a
private bot, and the bounded model cache."""

from __future__ import annotations

import base64

import pytest

from huggingtweets.app.playground import Playground, check_bot_id, profile_html, token_digest
from huggingtweets.errors import HubError, InputError

REPO = "huggingtweets/ada_l-grace_h"


def _publish(run_dir, hub, repo_id=REPO, *, private: bool):
    from huggingtweets.card import write_card
    from huggingtweets.publish import publish

    write_card(run_dir, repo_id=repo_id)
    return publish(run_dir, repo_id=repo_id, private=private, endpoint=hub.url, token=hub.token)


def test_public_bot_five_posts_with_the_cards_avatars_and_names(hub, tiny_run_dir):
    _publish(tiny_run_dir, hub, private=False)
    playground = Playground(endpoint=hub.url)
    profile, posts = playground.posts(REPO, "The lamp", seed=0)
    assert len(posts) == 5 and all(p.startswith("The lamp") for p in posts)
    assert (profile.repo_id, profile.name, profile.handles) == (
        REPO,
        "Ada Lovelace & Grace Hopper",
        ("@ada_l", "@grace_h"),
    )
    # The card links huggingface.co (the local Hub is http); the avatars come from this Hub, inlined.
    assert len(profile.avatars) == 2
    published = (tiny_run_dir / "model" / "avatars" / "ada_l.png").read_bytes()
    assert base64.b64decode(profile.avatars[0].split(",", 1)[1]) == published
    assert playground.loads == 1
    again, more = playground.posts(REPO, "")  # cached: nothing loaded again; blank prompt -> the default
    assert playground.loads == 1 and again == profile
    assert len(more) == 5 and all(p.startswith("My dream is") for p in more)
    assert playground.cached() == [(REPO, playground.access(REPO).sha, None)]


def test_private_bot_needs_a_token_that_can_read_it_and_is_never_shared(hub, tiny_run_dir, monkeypatch):
    _publish(tiny_run_dir, hub, private=True)
    # The server's own token must not read for a visitor who gave none.
    monkeypatch.setenv("HF_TOKEN", hub.token)
    playground = Playground(endpoint=hub.url)
    with pytest.raises(HubError, match="private and no token was given") as err:
        playground.posts(REPO, "Hi")
    assert err.value.status == 404 and hub.token not in str(err.value)
    profile, posts = playground.posts(REPO, "Hi", token=hub.token)
    assert profile.private and len(posts) == 5
    (key,) = playground.cached()
    assert key[2] == token_digest(hub.token) and hub.token not in repr(key)
    # Loaded with alice's token, it is not served to a request without one, nor to bob's.
    with pytest.raises(HubError, match="no token was given"):
        playground.posts(REPO, "Hi")
    with pytest.raises(HubError, match="this token cannot read it"):
        playground.posts(REPO, "Hi", token=hub.other_token)
    assert playground.loads == 1
    # Made public: everyone gets it, from a cache entry of its own (keyed for everyone, not alice).
    from huggingtweets.hubclient import HubClient

    HubClient(endpoint=hub.url, token=hub.token).set_private(REPO, False)
    _, posts = playground.posts(REPO, "Hi", token=hub.other_token)
    assert len(posts) == 5 and playground.loads == 2
    assert (REPO, playground.access(REPO).sha, None) in playground.cached()


def test_the_cache_keeps_the_last_n_models(hub, tiny_run_dir):
    other = "huggingtweets/second-bot"
    _publish(tiny_run_dir, hub, private=False)
    _publish(tiny_run_dir, hub, other, private=False)
    playground = Playground(endpoint=hub.url, cache_size=1)
    playground.posts(REPO, "A")
    playground.posts(other, "A")
    assert [k[0] for k in playground.cached()] == [other] and playground.loads == 2
    playground.posts(other, "B")
    assert playground.loads == 2
    playground.posts(REPO, "C")  # evicted earlier: loaded again
    assert [k[0] for k in playground.cached()] == [REPO] and playground.loads == 3


def test_visitors_asking_for_the_same_bot_at_once_load_it_once(hub, tiny_run_dir):
    from concurrent.futures import ThreadPoolExecutor

    _publish(tiny_run_dir, hub, private=False)
    playground = Playground(endpoint=hub.url)
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda p: playground.posts(REPO, p), ["A", "B", "C"]))
    assert [len(posts) for _, posts in results] == [5, 5, 5] and playground.loads == 1


def test_bad_repo_ids_and_missing_bots_are_one_line_errors(hub):
    for bad in ("", "noslash", "a/b/c", "../x", "org/<b>"):
        with pytest.raises(InputError, match="expected ORG/NAME"):
            check_bot_id(bad)
    with pytest.raises(HubError, match="huggingtweets/nobody was not found"):
        Playground(endpoint=hub.url).posts("huggingtweets/nobody", "Hi")
    bad_token = "hf_not_a_real_token_123"
    with pytest.raises(HubError, match="rejected the token given for huggingtweets/nobody") as err:
        Playground(endpoint=hub.url).posts("huggingtweets/nobody", "Hi", token=bad_token)
    assert bad_token not in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(InputError, match="cache size 0"):
        Playground(endpoint=hub.url, cache_size=0)


def test_profile_html_escapes_the_cards_text():
    from html.parser import HTMLParser

    from huggingtweets.app.playground import BotProfile

    profile = BotProfile(repo_id="o/n", name='<b>"x"</b>', handles=("@a",), avatars=("https://e.org/a.png",))

    class P(HTMLParser):
        tags: list = []
        texts: list = []

        def handle_starttag(self, tag, attrs):
            self.tags.append((tag, dict(attrs)))

        def handle_data(self, data):
            self.texts.append(data.strip())

    p = P()
    p.feed(profile_html(profile))
    assert "b" not in [t for t, _ in p.tags]
    (img,) = [a for t, a in p.tags if t == "img"]
    assert (img["src"], img["alt"]) == ("https://e.org/a.png", '<b>"x"</b>')
    assert '🤖 <b>"x"</b>' in p.texts and "@a" in p.texts
