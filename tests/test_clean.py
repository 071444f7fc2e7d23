"""Every cleaning rule, and the drop counts that reconcile."""

from __future__ import annotations

import pytest

from huggingtweets.clean import (
    DROP_REASONS,
    EMAIL_PLACEHOLDER,
    PHONE_PLACEHOLDER,
    clean_posts,
    clean_text,
    count_tokens,
    is_boring,
)


def post(text, **kw):
    return {"id": "1", "text": text, "is_retweet": False, "is_reply": False, "lang": "en", **kw}


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("salt &amp; smoke &lt;3 &gt; all", "salt & smoke <3 > all"),
        ("&quot;quoted&quot; &#39;single&#39; &hellip; &eacute;t&eacute;", "\"quoted\" 'single' … été"),
    ],
)
def test_unescapes_all_html_entities(raw, clean):
    assert clean_text(raw) == clean


@pytest.mark.parametrize(
    "raw",
    [
        "https://t.co/abc starts the post here",
        "the link https://t.co/abc stands in the middle here",
        "ends with a link here http://example.com/a?b=c",
        "on its own line\nhttps://t.co/abc\nhere",
        "bare www.example.com/page and pic.twitter.com/xyz here",
    ],
)
def test_removes_urls_wherever_they_stand(raw):
    cleaned = clean_text(raw)
    assert "http" not in cleaned and "www." not in cleaned and "pic.twitter" not in cleaned
    assert cleaned.endswith("here") and "  " not in cleaned


def test_collapses_spaces_and_removes_newlines():
    assert clean_text("  many    spaces\there \n\n and\nlines  ") == "many spaces here and lines"


def test_keep_newlines():
    assert (
        clean_text("line one  \n\n\n\n  line   two\nthree", keep_newlines=True)
        == "line one\n\nline two\nthree"
    )


def test_strips_leading_mentions_of_replies_only():
    assert clean_text("@a @b_2 thanks for the bread @c", is_reply=True) == "thanks for the bread @c"
    assert clean_text("@a is the best baker", is_reply=False) == "@a is the best baker"


def test_replaces_email_and_phone_numbers():
    cleaned = clean_text(
        "Write to jo.baker+bread@gull-stone.example or call 01632-960-418, +44 20 7946 0958, (555) 123-4567."
    )
    assert (
        cleaned
        == f"Write to {EMAIL_PLACEHOLDER} or call {PHONE_PLACEHOLDER}, {PHONE_PLACEHOLDER}, {PHONE_PLACEHOLDER}."
    )


@pytest.mark.parametrize(
    "text",
    [
        "In 2019 2020 and 2021 we had 1,758 posts",
        "On 2022-10-19 the score was 3.14 to 10.5",
        "version 1.2.3 is out, and @mention stays",
        "Call me at 12:30 tomorrow",
    ],
)
def test_numbers_that_are_not_phones_stay(text):
    assert clean_text(text) == text


def test_boring_counts_only_real_words():
    assert is_boring("hello there")
    assert is_boring("@a #b https://x.y hello there")
    assert not is_boring("hello there friend")
    assert not is_boring("@a hello there friend #b")


def test_count_tokens_is_gpt2_pretokenization():
    # "Hello", " world", ",", " it", "'s", " 2022", "!!"
    assert count_tokens("Hello world, it's 2022!!") == 7
    assert count_tokens("") == 0
    # Outside ASCII each letter is at least a token (a whole Chinese sentence is one pre-token).
    assert count_tokens("今天早上我在河边跑了五公里。") == 14 and count_tokens("café au lait") == 3


def test_clean_posts_counts_every_drop():
    posts = [
        post("RT @friend: something worth sharing with everyone"),  # retweet by prefix
        post("something shared with the retweeted flag", is_retweet=True),
        post("@bob I agree with every single word", is_reply=True, reply_to="bob"),
        post("@me and the thread goes on and on", is_reply=True, reply_to="me", is_self_thread=True),
        post("https://t.co/photo", lang="zxx"),
        post("https://t.co/photo2", lang="qme"),
        post("https://t.co/onlylink"),  # nothing left after cleaning: media only
        post("Too short"),
        post("The kettle is on and the sea is calm https://t.co/a"),
        post("The kettle is on and the sea is   calm https://t.co/b"),  # duplicate after cleaning
        post("A perfectly good post about bread &amp; butter"),
    ]
    kept_replies = clean_posts(posts)
    assert kept_replies.drops == {"retweets": 2, "replies": 0, "media_only": 3, "short": 1, "duplicates": 1}
    assert [p["text"] for p in kept_replies.kept] == [
        "I agree with every single word",
        "and the thread goes on and on",
        "The kettle is on and the sea is calm",
        "A perfectly good post about bread & butter",
    ]
    dropped = clean_posts(posts, keep_replies=False)
    assert dropped.drops["replies"] == 1
    # A reply to oneself continues a thread and stays.
    assert "and the thread goes on and on" in [p["text"] for p in dropped.kept]
    for result in (kept_replies, dropped):
        assert (
            result.downloaded == len(posts) == sum(result.drops[k] for k in DROP_REASONS) + len(result.kept)
        )


def test_kept_posts_keep_their_metadata():
    result = clean_posts([post("One two three four", created_at="2022-01-01T00:00:00Z", lang="fr")])
    assert result.kept[0]["created_at"] == "2022-01-01T00:00:00Z" and result.kept[0]["lang"] == "fr"


@pytest.mark.parametrize(
    "text",
    [
        "We met on 24.12.2022 by the harbour",
        "She was born 19-10-1985 in the lighthouse",
        "From 19.10.1985-20.10.1985 the lamp was dark",
        "The town counted 10.000.000 visitors and 1.234.567.890 gulls",
        "Prices start at 10.000.000,50 EUR today",
        "The router sits at 192.168.100.200 on the network",
    ],
)
def test_dates_thousands_and_addresses_are_not_phones(text):
    assert clean_text(text) == text


@pytest.mark.parametrize(
    "phone",
    [
        "+44 20 7946 0958",
        "(555) 123-4567",
        "555-123-4567",
        "555.123.4567",
        "+1 555 123 4567",
        "01632-960-418",
    ],
)
def test_real_phone_numbers_are_replaced(phone):
    assert (
        clean_text(f"Ring the keeper on {phone}, any time.")
        == f"Ring the keeper on {PHONE_PLACEHOLDER}, any time."
    )
