"""Write huggingtweets/sample/sample_archive.zip: the X archive of an invented person.

Wren Callister (@wren_at_gullstone) keeps the lighthouse on the invented island of Gullstone
and bakes bread for the village. Every post is invented, composed with a fixed seed from the
sentence pools in sample_archive_text.py; the archive follows the real 2022 format (data/manifest.js, account.js,
profile.js, tweets.js + tweets-part1.js, note-tweet.js, an avatar in data/profile_media/) and holds
the cases the importer must handle: retweets, replies, a self-thread, short posts, URLs, HTML
entities, a long note-tweet, an edit chain, media-only posts, a duplicate, an e-mail and a phone.

The output is byte-for-byte deterministic: run ``python tools/make_sample_archive.py`` and commit
both this script and the zip.
"""

from __future__ import annotations

import json
import random
import struct
import sys
import zipfile
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "huggingtweets" / "sample" / "sample_archive.zip"
HANDLE = "wren_at_gullstone"
NAME = "Wren Callister"
ACCOUNT_ID = "1360021455913828352"
AVATAR_ID = "1360022718044372993"
AVATAR_NAME = "gullstone_lamp.png"
ZIP_TIME = (2022, 11, 1, 9, 0, 0)
EPOCH_MS = 1288834974657  # X's snowflake epoch: ids grow with time, as in real archives

# The sentence pools live beside this script; it runs as a script, so its folder is put on the path.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from sample_archive_text import CLOSERS, FRIENDS, MIDDLES, OPENERS, REPLIES, RETWEETS, SHORT  # noqa: E402


def _rng_post(rng: random.Random, seen: set[str]) -> str:
    while True:
        topic = rng.choice(sorted(OPENERS))
        parts = [rng.choice(OPENERS[topic]) + rng.choice([".", ".", "!", ", and I loved it."])]
        if rng.random() < 0.55:
            other = rng.choice(sorted(OPENERS))
            second = rng.choice(OPENERS[other])
            second = second if second.startswith(("I ", "Old ")) else second[0].lower() + second[1:]
            parts.append(rng.choice(["Later,", "Meanwhile,", "After that,", "Also,"]) + " " + second + ".")
        parts.append(rng.choice(MIDDLES))
        parts.append(rng.choice(CLOSERS))
        text = " ".join(p for p in parts if p)
        if text not in seen and len(text) <= 280:
            seen.add(text)
            return text


def _png(size: int = 48) -> bytes:
    """A tiny avatar drawn by hand (a red-and-white lighthouse on blue), so the bytes never vary."""
    rows = []
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            in_tower = abs(x - size // 2) <= 4 + y // 12 and y > 8
            if in_tower:
                color = (200, 40, 40) if (y // 6) % 2 else (245, 245, 245)
            elif y <= 8 and abs(x - size // 2) <= 3:
                color = (255, 210, 60)
            else:
                color = (40, 90, 150) if y > 36 else (150, 190, 225)
            row.extend(color)
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


def _snowflake(when: datetime, seq: int) -> str:
    return str(((int(when.timestamp() * 1000) - EPOCH_MS) << 22) + seq)


def _x_date(when: datetime) -> str:
    return when.strftime("%a %b %d %H:%M:%S +0000 %Y")


def _tweet(
    tid: str, when: datetime, text: str, *, lang: str = "en", urls=(), reply_to=None, media=False
) -> dict:
    tweet = {
        "edit_info": {
            "initial": {
                "editTweetIds": [tid],
                "editableUntil": (when + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "editsRemaining": "5",
                "isEditEligible": True,
            }
        },
        "retweeted": False,
        "source": '<a href="http://twitter.com/download/android" rel="nofollow">Twitter for Android</a>',
        "entities": {
            "hashtags": [],
            "symbols": [],
            "user_mentions": [],
            "urls": [
                {
                    "url": short,
                    "expanded_url": full,
                    "display_url": full.split("//", 1)[1][:26],
                    "indices": ["0", "23"],
                }
                for short, full in urls
            ],
        },
        "display_text_range": ["0", str(len(text))],
        "favorite_count": "0",
        "id_str": tid,
        "truncated": False,
        "retweet_count": "0",
        "id": tid,
        "created_at": _x_date(when),
        "favorited": False,
        "full_text": text,
        "lang": lang,
    }
    if reply_to:
        user, status = reply_to
        user_id = ACCOUNT_ID if user == HANDLE else str(1000 + sum(map(ord, user)))  # stable invented ids
        tweet.update(
            in_reply_to_status_id_str=status,
            in_reply_to_status_id=status,
            in_reply_to_screen_name=user,
            in_reply_to_user_id_str=user_id,
            in_reply_to_user_id=user_id,
        )
        tweet["entities"]["user_mentions"].append(
            {
                "name": user,
                "screen_name": user,
                "indices": ["0", str(len(user) + 1)],
                "id_str": user_id,
                "id": user_id,
            }
        )
    if media:
        tweet["entities"]["media"] = [
            {
                "url": text.split()[-1],
                "expanded_url": f"https://twitter.com/{HANDLE}/status/{tid}/photo/1",
                "type": "photo",
                "display_url": "pic.twitter.com/" + tid[-10:],
            }
        ]
    return tweet


def build_posts() -> tuple[list[dict], list[dict]]:
    """The tweets (newest first, as X writes them) and the note-tweets."""
    rng = random.Random(20221101)
    seen: set[str] = set()
    start = datetime(2021, 3, 1, 6, 0, tzinfo=timezone.utc)
    events: list[tuple[str, object]] = [("plain", None)] * 330
    events += [("reply", i) for i in range(30)] + [("rt", i) for i in range(len(RETWEETS))]
    events += [("short", i) for i in range(len(SHORT))] + [("url", i) for i in range(8)]
    events += [("media", i) for i in range(6)] + [("entity", i) for i in range(6)]
    events += [("dup", 0), ("dup", 1), ("note", 0), ("edit", 0), ("thread", 0), ("contact", 0)]
    rng.shuffle(events)
    tweets: list[dict] = []
    notes: list[dict] = []
    when = start
    last_own: tuple[str, datetime] | None = None
    for seq, (kind, i) in enumerate(events):
        when = when + timedelta(
            hours=rng.randint(10, 60), minutes=rng.randint(0, 59), seconds=rng.randint(0, 59)
        )
        tid = _snowflake(when, seq)
        if kind == "plain" or (kind == "thread" and not last_own):
            tweets.append(_tweet(tid, when, _rng_post(rng, seen)))
            last_own = (tid, when)
        elif kind == "reply":
            friend = FRIENDS[i % len(FRIENDS)]
            text = f"@{friend} " + REPLIES[i % len(REPLIES)]
            if i >= len(REPLIES):
                text = f"@{friend} @{FRIENDS[(i + 1) % len(FRIENDS)]} " + _rng_post(rng, seen)
            tweets.append(
                _tweet(tid, when, text, reply_to=(friend, _snowflake(when - timedelta(hours=2), 7)))
            )
        elif kind == "rt":
            friend = FRIENDS[i % len(FRIENDS)]
            tweets.append(_tweet(tid, when, f"RT @{friend}: {RETWEETS[i]}"))
        elif kind == "short":
            tweets.append(_tweet(tid, when, SHORT[i]))
        elif kind == "url":
            link = f"https://t.co/gUl{i}sT0n{i}"
            text = _rng_post(rng, seen)
            text = f"{text} Photos here: {link}" if i % 2 else f"New recipe notes up: {link} {text}"
            tweets.append(
                _tweet(tid, when, text[:280], urls=[(link, f"https://gullstone.example/notes/{i}")])
            )
        elif kind == "media":
            text = f"https://t.co/pHoTo{i:04d}"
            tweets.append(_tweet(tid, when, text, lang="zxx" if i % 2 else "qme", media=True))
        elif kind == "entity":
            pairs = [
                "bread &amp; butter",
                "tides &gt; timetables",
                "rye &lt; spelt, fight me",
                "salt &amp; smoke",
                "fog &amp; foghorns",
                "lamp &amp; log",
            ]
            tweets.append(_tweet(tid, when, f"Today's motto: {pairs[i]}. " + _rng_post(rng, seen)))
        elif kind == "dup":
            tweets.append(
                _tweet(tid, when, "Good morning from the lamp room. The sea is calm and the kettle is on.")
            )
        elif kind == "note":
            long_text = (
                "A long one, because the island deserves it. This week the ferry missed three sailings, the "
                "generator sulked twice, and the gulls stole an entire tray of cinnamon knots while I was "
                "up the tower. And still, every night, the lamp turned and the light went out across the "
                "water, steady as a heartbeat. People ask if it gets lonely out here. Sometimes. But then a "
                "fishing boat flashes its lights back at the tower on the way home, and I remember that the "
                "whole point of this place is that somebody out there is glad of it. Kettle on."
            )
            link = "https://t.co/nOtEtWeEt1"
            tweets.append(
                _tweet(
                    tid,
                    when,
                    long_text[:254] + "… " + link,
                    urls=[(link, f"https://twitter.com/i/web/status/{tid}")],
                )
            )
            notes.append(
                {
                    "noteTweet": {
                        "noteTweetId": _snowflake(when, 999),
                        "updatedAt": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                        "lifecycle": {
                            "value": "1",
                            "name": "Published",
                            "originalName": "Published",
                            "annotations": {},
                        },
                        "core": {
                            "styletags": [],
                            "urls": [],
                            "text": long_text,
                            "mentions": [],
                            "cashtags": [],
                            "hashtags": [],
                        },
                        "createdAt": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    }
                }
            )
        elif kind == "edit":
            first = _tweet(
                tid, when, "The new oven arived today and it is enormous. I may have to knock down a wall."
            )
            edited_when = when + timedelta(minutes=4)
            eid = _snowflake(edited_when, seq + 5000)
            second = _tweet(
                eid,
                edited_when,
                "The new oven arrived today and it is enormous. I may have to knock down a wall.",
            )
            chain = [tid, eid]
            first["edit_info"]["initial"]["editTweetIds"] = chain
            second["edit_info"] = {
                "edit": {
                    "initialTweetId": tid,
                    "editControlInitial": {
                        "editTweetIds": chain,
                        "editableUntil": first["edit_info"]["initial"]["editableUntil"],
                        "editsRemaining": "4",
                        "isEditEligible": True,
                    },
                }
            }
            tweets.extend([first, second])
        elif kind == "thread" and last_own:
            base_id, _ = last_own
            tweets.append(
                _tweet(
                    tid,
                    when,
                    f"@{HANDLE} And a postscript to that: the gulls came back for seconds.",
                    reply_to=(HANDLE, base_id),
                )
            )
        elif kind == "contact":
            tweets.append(
                _tweet(
                    tid,
                    when,
                    "Bread orders for the weekend to wren@gullstone.example or ring the cottage on 01632-960-418 before Thursday.",
                )
            )
    tweets.sort(key=lambda t: int(t["id_str"]), reverse=True)
    return tweets, notes


def _ytd(name: str, part: int, records: list) -> bytes:
    return f"window.YTD.{name}.part{part} = {json.dumps(records, indent=2, ensure_ascii=False)}".encode()


def build_files() -> dict[str, bytes]:
    tweets, notes = build_posts()
    wrapped = [{"tweet": t} for t in tweets]
    half = len(wrapped) // 2
    parts = {"data/tweets.js": wrapped[:half], "data/tweets-part1.js": wrapped[half:]}
    manifest = {
        "userInfo": {"accountId": ACCOUNT_ID, "userName": HANDLE, "displayName": NAME},
        "archiveInfo": {
            "sizeBytes": "0",
            "generationDate": "2022-11-01T09:00:00.000Z",
            "isPartialArchive": False,
            "maxPartSizeBytes": "53687091200",
        },
        "readmeInfo": {"fileName": "data/README.txt", "directory": "data/", "name": "README.txt"},
        "dataTypes": {
            "account": {
                "files": [{"fileName": "data/account.js", "globalName": "YTD.account.part0", "count": "1"}]
            },
            "noteTweet": {
                "files": [
                    {
                        "fileName": "data/note-tweet.js",
                        "globalName": "YTD.note_tweet.part0",
                        "count": str(len(notes)),
                    }
                ]
            },
            "profile": {
                "mediaDirectory": "data/profile_media",
                "files": [{"fileName": "data/profile.js", "globalName": "YTD.profile.part0", "count": "1"}],
            },
            "tweets": {
                "mediaDirectory": "data/tweets_media",
                "files": [
                    {"fileName": name, "globalName": f"YTD.tweets.part{i}", "count": str(len(recs))}
                    for i, (name, recs) in enumerate(parts.items())
                ],
            },
        },
    }
    account = [
        {
            "account": {
                "email": "wren@gullstone.example",
                "createdVia": "web",
                "username": HANDLE,
                "accountId": ACCOUNT_ID,
                "createdAt": "2021-02-12T08:00:00.000Z",
                "accountDisplayName": NAME,
            }
        }
    ]
    profile = [
        {
            "profile": {
                "description": {
                    "bio": "Keeper of the Gullstone light. Baker of too much bread. Invented for huggingtweets' demo.",
                    "website": "",
                    "location": "Gullstone",
                },
                "avatarMediaUrl": f"https://pbs.twimg.com/profile_images/{AVATAR_ID}/{AVATAR_NAME}",
            }
        }
    ]
    return {
        "data/manifest.js": ("window.__THAR_CONFIG = " + json.dumps(manifest, indent=2)).encode(),
        "data/account.js": _ytd("account", 0, account),
        "data/profile.js": _ytd("profile", 0, profile),
        "data/tweets.js": _ytd("tweets", 0, parts["data/tweets.js"]),
        "data/tweets-part1.js": _ytd("tweets", 1, parts["data/tweets-part1.js"]),
        "data/note-tweet.js": _ytd("note_tweet", 0, notes),
        f"data/profile_media/{ACCOUNT_ID}-{AVATAR_NAME}": _png(),
        "data/README.txt": b"An invented X archive written by tools/make_sample_archive.py for huggingtweets.\n",
    }


def write_zip(out: Path = OUT) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in sorted(build_files().items()):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)  # a fixed time: same bytes on every run
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    tmp.replace(out)
    return out


if __name__ == "__main__":
    path = write_zip(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
    print(f"wrote {path} ({path.stat().st_size:,} bytes)")
